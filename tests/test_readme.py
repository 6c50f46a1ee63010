"""README.md says what is true (issue 16): its ```cpp snippet compiles on its own with the
public headers (cpp/include/fastmlp/), links against the core library through the README's own
CMake lines (add_subdirectory + fastmlp::core) and runs; the 0.90 recipe has one training time.
(The command-line block is checked against the parser in test_cli.py.)"""

import glob
import os
import re
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")


def _block(language, after="## C++"):
    """The first ```language block after the heading ``after``."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index(after):]
    start = section.index(f"```{language}\n") + len(f"```{language}\n")
    return section[start:section.index("\n```", start)] + "\n"


def _compiler():
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _prebuilt_core():
    """The newest libfastmlp_core.a of a build tree in the repository (pip install . leaves one
    in build/<wheel tag>), or None."""
    found = glob.glob(os.path.join(REPO, "build*", "**", "libfastmlp_core.a"), recursive=True)
    return max(found, key=os.path.getmtime) if found else None


def _run(cmd, cwd, timeout=900):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _build_with_cmake(tmp_path, source):
    """A project beside the repository, as the README describes: the repository is its
    subdirectory `fastmlp`, and the README's CMake lines link my_app to fastmlp::core."""
    os.symlink(REPO, tmp_path / "fastmlp")
    (tmp_path / "main.cpp").write_text(source)
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\nproject(readme_example LANGUAGES CXX)\n"
        "add_executable(my_app main.cpp)\n" + _block("cmake"))
    build = tmp_path / "build"
    # Debug: the core compiles in about a quarter of the Release time, and this checks the API.
    _run(["cmake", "-S", str(tmp_path), "-B", str(build), "-DCMAKE_BUILD_TYPE=Debug",
          f"-DCMAKE_CXX_COMPILER={_compiler()}"], tmp_path)
    _run(["cmake", "--build", str(build), "--target", "my_app", "--parallel", "2"], tmp_path)
    return build / "my_app"


def _build_against(library, tmp_path, source):
    (tmp_path / "main.cpp").write_text(source)
    exe = tmp_path / "my_app"
    _run([_compiler(), "-std=c++17", "-I", os.path.join(REPO, "cpp", "include"),
          str(tmp_path / "main.cpp"), library, "-fopenmp", "-pthread", "-o", str(exe)],
         tmp_path)
    return exe


@pytest.mark.slow
def test_readme_cpp_snippet_compiles_links_and_runs(tmp_path):
    if not os.path.isfile(README) or not os.path.isdir(os.path.join(REPO, "cpp", "include")):
        pytest.skip("the source tree (README.md, cpp/) is not next to the tests")
    if _compiler() is None:
        pytest.skip("no C++ compiler (c++, g++, clang++ or $CXX) on PATH")
    source = _block("cpp")
    assert '#include "fastmlp/model.h"' in source and "int main(" in source
    if shutil.which("cmake"):
        exe = _build_with_cmake(tmp_path, source)
    elif _prebuilt_core():
        exe = _build_against(_prebuilt_core(), tmp_path, source)
    else:
        pytest.skip("cmake is not on PATH and no built libfastmlp_core.a is in the repository")
    proc = _run([str(exe)], tmp_path, timeout=120)
    assert re.fullmatch(r"loss \d\.\d{4}, accuracy 1\.00\n", proc.stdout), proc.stdout


def test_readme_cmake_lines_name_the_exported_target():
    if not os.path.isfile(README):
        pytest.skip("README.md is not next to the tests")
    cmake = _block("cmake")
    assert "add_subdirectory(fastmlp)" in cmake
    assert "target_link_libraries(my_app PRIVATE fastmlp::core)" in cmake
    with open(os.path.join(REPO, "CMakeLists.txt"), encoding="utf-8") as f:
        assert "add_library(fastmlp::core ALIAS fastmlp_core)" in f.read()


def test_readme_gives_one_training_time_for_the_090_recipe():
    if not os.path.isfile(README):
        pytest.skip("README.md is not next to the tests")
    with open(README, encoding="utf-8") as f:
        lines = [line for line in f if "fashion_mnist_90" in line]
    assert len(lines) >= 2  # the performance table and the examples table
    times = {t for line in lines for t in re.findall(r"(\d+\.\d+) s\b(?! of CPU)", line)}
    assert len(times) == 1, times
