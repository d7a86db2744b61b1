"""numpy's array memory through the library's block cache (dfp_block_* in dfpengine.h).

A training step allocates the same large arrays every step; numpy's default
allocator gives their pages back to the kernel on free, and the next step faults
and zeroes them again. Installed as numpy's allocator (NEP 49) for the context
that imports dfpengine, freed blocks of 128 KiB or more are kept and reused.
Arrays remember the allocator that made them, so arrays from before the install
or from other contexts are freed by theirs: installing is always safe."""
from cpython.pycapsule cimport PyCapsule_New
from libc.string cimport strncpy

from dfpengine._native.libdfp_core cimport *

cimport numpy as cnp

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void *ctx
        void *(*malloc)(void *ctx, size_t size) noexcept nogil
        void *(*calloc)(void *ctx, size_t nelem, size_t elsize) noexcept nogil
        void *(*realloc)(void *ctx, void *ptr, size_t new_size) noexcept nogil
        void (*free)(void *ctx, void *ptr, size_t size) noexcept nogil
    ctypedef struct PyDataMem_Handler:
        char name[127]
        unsigned char version
        PyDataMemAllocator allocator
    object PyDataMem_SetHandler(object handler)

HANDLER_NAME = "dfpengine_block_cache"


cdef void *_malloc(void *ctx, size_t size) noexcept nogil:
    return dfp_block_alloc(size)


cdef void *_calloc(void *ctx, size_t nelem, size_t elsize) noexcept nogil:
    return dfp_block_calloc(nelem, elsize)


cdef void *_realloc(void *ctx, void *ptr, size_t new_size) noexcept nogil:
    return dfp_block_realloc(ptr, new_size)


cdef void _free(void *ctx, void *ptr, size_t size) noexcept nogil:
    dfp_block_free(ptr)   # (the block's header knows its size)


cdef PyDataMem_Handler _handler
strncpy(_handler.name, HANDLER_NAME.encode(), 126)
_handler.version = 1
_handler.allocator.ctx = NULL
_handler.allocator.malloc = _malloc
_handler.allocator.calloc = _calloc
_handler.allocator.realloc = _realloc
_handler.allocator.free = _free
_capsule = PyCapsule_New(<void *>&_handler, "mem_handler", NULL)


_previous = []   # the handlers install() replaced, for uninstall()


def install():
    """Make the block cache numpy's allocator in the current context."""
    _previous.append(PyDataMem_SetHandler(_capsule))


def uninstall():
    """Put back the allocator the last install() replaced (arrays made meanwhile keep
    theirs, and free through it)."""
    if _previous:
        PyDataMem_SetHandler(_previous.pop())


def set_limit(nbytes):
    """Keep at most nbytes of freed blocks (0: keep none); frees any past it."""
    if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes < 0:
        raise ValueError(f"cache limit must be a non-negative int of bytes, got {nbytes!r}")
    dfp_block_cache_set_limit(nbytes)


def release():
    """Free every kept block."""
    dfp_block_cache_release()


def stats():
    cdef dfp_block_cache_stats s
    dfp_block_cache_get_stats(&s)
    return {"cached_bytes": s.cached_bytes, "cached_blocks": s.cached_blocks,
            "limit_bytes": s.limit_bytes, "hits": s.hits, "misses": s.misses}
