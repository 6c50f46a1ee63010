// The worker team: every id runs exactly once per region, nesting and concurrent callers run
// alone instead of deadlocking, and a forked child gets a working team of its own.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "check.h"
#include "common/thread_team.h"

using fastmlp::detail::in_team_region;
using fastmlp::detail::run_team;

namespace {

void busy_wait_us(int us) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (std::chrono::steady_clock::now() < end) {
  }
}

std::atomic<int> g_shares_on_workers{0};

// Each of `threads` ids is seen once, with the thread count the region reports; each share
// takes `work_us`, so that workers have time to take theirs.
bool region_covers_ids(int threads, int work_us = 0) {
  std::vector<std::atomic<int>> seen(static_cast<std::size_t>(threads));
  std::atomic<int> bad_count{0};
  const auto caller = std::this_thread::get_id();
  auto body = [&](int id, int n) {
    busy_wait_us(work_us);
    if (std::this_thread::get_id() != caller) g_shares_on_workers.fetch_add(1);
    if (n != threads || id < 0 || id >= n) bad_count.fetch_add(1);
    else seen[static_cast<std::size_t>(id)].fetch_add(1);
  };
  const int ran = run_team(threads, body);
  bool ok = ran >= 1 && ran <= threads && bad_count.load() == 0;
  for (auto& s : seen) ok = ok && s.load() == 1;
  return ok;
}

void test_ids_and_counts() {
  for (int threads : {2, 3, 2, 5, 1, 2}) CHECK(region_covers_ids(threads));
  bool all = true;
  for (int i = 0; i < 3000; ++i) all = all && region_covers_ids(2 + i % 3);
  CHECK(all);
  // shares a caller finishes before any worker starts run on the caller; with real work the
  // workers take part
  g_shares_on_workers = 0;
  for (int i = 0; i < 200; ++i) all = all && region_covers_ids(2, 50);
  CHECK(all);
  CHECK(g_shares_on_workers.load() > 0);
}

void test_nested_region_runs_alone() {
  std::atomic<int> inner_runs{0}, inner_threads{0};
  auto outer = [&](int, int) {
    CHECK(in_team_region());
    auto inner = [&](int, int n) {
      inner_runs.fetch_add(1);
      inner_threads.fetch_add(n);
    };
    run_team(2, inner);
  };
  CHECK(run_team(2, outer) >= 1);
  CHECK(inner_runs.load() == 2);
  CHECK(inner_threads.load() == 2);  // each inner region ran with one thread
  CHECK(!in_team_region());
}

void test_concurrent_callers() {
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        std::atomic<int> calls{0}, team_size{0};
        auto body = [&](int, int n) {
          calls.fetch_add(1);
          team_size.store(n);
        };
        const int ran = run_team(2, body);
        // the team (every share once) or alone (one call with n = 1), never a lost share
        total.fetch_add(calls.load() == team_size.load() && ran <= calls.load() ? 1 : 0);
      }
    });
  }
  for (auto& t : callers) t.join();
  CHECK(total.load() == 4 * 300);
}

void test_fork_child_has_a_team() {
  CHECK(region_covers_ids(2));  // workers exist in the parent before the fork
  const pid_t pid = fork();
  if (pid == 0) _exit(region_covers_ids(2) && region_covers_ids(3) ? 0 : 1);
  int status = -1;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace

int main() {
  test_ids_and_counts();
  test_nested_region_runs_alone();
  test_concurrent_callers();
  test_fork_child_has_a_team();
  return check::exit_code("test_thread_team");
}
