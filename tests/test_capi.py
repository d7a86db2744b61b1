"""The cffi binding and the Cython declarations stay in step with the header."""
import glob
import os
import re

import pytest

from dfpengine import capi

PXD_DIR = os.path.join(os.path.dirname(capi.__file__), "_native")


def pxd_functions():
    """(name, number of parameters) of every dfp_* function declared in the .pxd files."""
    found = []
    for path in glob.glob(os.path.join(PXD_DIR, "*.pxd")):
        text = open(path).read()
        for name, params in re.findall(r"\b(dfp_\w+)\s*\(([^)]*)\)", text):
            params = params.strip()
            count = 0 if params in ("", "void") else params.count(",") + 1
            found.append((os.path.basename(path), name, count))
    return found


def test_pxd_files_found():
    assert any(name == "dfp_isa_select" for _, name, _ in pxd_functions())


@pytest.mark.parametrize("pxd,name,count", pxd_functions())
def test_cython_declaration_matches_header(pxd, name, count):
    assert hasattr(capi.lib, name), f"{pxd} declares {name}, which the header does not"
    assert len(capi.ffi.typeof(getattr(capi.lib, name)).args) == count, \
        f"{pxd}: {name} has {count} parameters, the header a different number"


def test_status_strings_and_check():
    assert capi.ffi.string(capi.lib.dfp_status_string(capi.lib.DFP_OK)) == b"ok"
    with pytest.raises(capi.CapiError, match="invalid argument"):
        capi.check(capi.lib.dfp_set_num_threads(-4))


def test_header_declarations_drop_preprocessor():
    text = '#ifndef X\n#define X\n#ifdef __cplusplus\nextern "C" {\n#endif\nint f(void);\n'
    assert capi.header_declarations(text).strip() == "int f(void);"
