"""Using dfpengine.capi on raw buffers: an SGEMM on cffi-allocated memory and on
numpy arrays, both checked against numpy, plus the error path."""
import numpy as np

from dfpengine import capi

ffi, lib = capi.ffi, capi.lib


def main():
    print(f"dfpengine {ffi.string(lib.dfp_version()).decode()}, "
          f"ISA {ffi.string(lib.dfp_isa_name(lib.dfp_isa_selected())).decode()}")
    m, n, k = 3, 5, 7
    # raw C buffers owned by the caller
    a = ffi.new("float[]", [float(i % 5) for i in range(m * k)])
    b = ffi.new("float[]", [float((i * 3) % 7) - 3 for i in range(k * n)])
    c = ffi.new("float[]", m * n)
    capi.check(lib.dfp_sgemm(0, 0, m, n, k, 1.0, a, k, b, n, 0.0, c, n))
    a_np = np.frombuffer(ffi.buffer(a), dtype=np.float32).reshape(m, k)
    b_np = np.frombuffer(ffi.buffer(b), dtype=np.float32).reshape(k, n)
    c_np = np.frombuffer(ffi.buffer(c), dtype=np.float32).reshape(m, n)
    np.testing.assert_allclose(c_np, a_np @ b_np, rtol=1e-6)

    # numpy arrays passed by pointer, transposed A
    at = np.ascontiguousarray(a_np.T)
    out = np.zeros((m, n), np.float32)
    capi.check(lib.dfp_sgemm(1, 0, m, n, k, 1.0, capi.float_ptr(at), m,
                             capi.float_ptr(b_np), n, 0.0, capi.float_ptr(out), n))
    np.testing.assert_allclose(out, a_np @ b_np, rtol=1e-6)

    try:
        capi.check(lib.dfp_sgemm(0, 0, m, n, k, 1.0, ffi.NULL, k, b, n, 0.0, c, n))
    except capi.CapiError as exc:
        print(f"NULL buffer rejected: {exc}")
    else:
        raise SystemExit("expected an error for a NULL buffer")
    print("ok")


if __name__ == "__main__":
    main()
