"""Build: libdfpengine (the C library, shared) plus the Cython glue linked to it.

The C library is built with the compiler setuptools already configured, with
per-folder ISA flags from native/build_flags.txt (the same file CMake reads), and
placed inside the package next to the extensions (rpath $ORIGIN), where the cffi
binding `dfpengine.capi` also loads it. Its public header is copied beside it.
"""
import fnmatch
import glob
import os
import shutil

import numpy
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
NATIVE = os.path.join(ROOT, "native")
BASE_FLAGS = ["-O3", "-std=c11", "-ffp-contract=off", "-fopenmp", "-fPIC",
              "-Wall", "-Wextra", "-Wno-unused-parameter", '-DDFP_VERSION="0.1.0"']


def isa_flag_rules():
    rules = []
    with open(os.path.join(NATIVE, "build_flags.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if line:
                rules.append((line[0], line[1:]))
    return rules


def native_sources():
    """Group native C sources by their extra flags (first matching rule wins)."""
    groups = {}
    rules = isa_flag_rules()
    for path in sorted(glob.glob(os.path.join(NATIVE, "**", "*.c"), recursive=True)):
        rel = os.path.relpath(path, NATIVE)
        if rel.startswith(("tests", "bench")):
            continue
        flags = next((f for pat, f in rules if fnmatch.fnmatch(rel, pat)), [])
        groups.setdefault(tuple(flags), []).append(os.path.relpath(path, ROOT))
    return groups


class BuildNativeThenExt(build_ext):
    def run(self):
        self.lib_dir = os.path.dirname(self.get_ext_fullpath("dfpengine._native._dispatch"))
        os.makedirs(self.lib_dir, exist_ok=True)
        self.build_libdfpengine()
        for ext in self.extensions:
            ext.library_dirs.append(self.lib_dir)
        super().run()

    def build_libdfpengine(self):
        from setuptools._distutils.ccompiler import new_compiler
        from setuptools._distutils.sysconfig import customize_compiler
        cc = new_compiler(verbose=self.verbose, force=self.force)
        customize_compiler(cc)
        objects = []
        for flags, sources in native_sources().items():
            objects += cc.compile(sources, output_dir=self.build_temp,
                                  include_dirs=[os.path.join("native", "include"),
                                                os.path.join("native", "core")],
                                  extra_postargs=BASE_FLAGS + list(flags))
        cc.link_shared_object(objects, os.path.join(self.lib_dir, "libdfpengine.so"),
                              extra_postargs=["-fopenmp", "-lm", "-Wl,-soname,libdfpengine.so"])
        shutil.copy(os.path.join(NATIVE, "include", "dfpengine.h"),
                    os.path.join(self.lib_dir, "dfpengine.h"))


def cython_extensions():
    exts = []
    for pyx in sorted(glob.glob(os.path.join("dfpengine", "_native", "*.pyx"))):
        name = "dfpengine._native." + os.path.splitext(os.path.basename(pyx))[0]
        exts.append(Extension(
            name, [pyx],
            include_dirs=[numpy.get_include(), os.path.join("native", "include")],
            libraries=["dfpengine"],
            extra_compile_args=["-O2"],
            extra_link_args=["-Wl,-rpath,$ORIGIN"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        ))
    return cythonize(exts, language_level=3, compiler_directives={
        "boundscheck": False, "wraparound": False, "cdivision": True})


setup(
    # models/ is a top-level folder by design, installed as dfpengine.models
    packages=find_packages(include=["dfpengine", "dfpengine.*"]) + ["dfpengine.models"],
    package_dir={"dfpengine.models": "models"},
    ext_modules=cython_extensions(),
    cmdclass={"build_ext": BuildNativeThenExt},
)
