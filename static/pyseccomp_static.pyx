# cython: language_level=3, boundscheck=False, wraparound=False
"""`pyseccomp` for the static railcar: the part of pyseccomp 0.1.2's API that railcar.seccomp
uses, on libseccomp linked into the executable (pyseccomp itself is ctypes + dlopen, which a
static executable cannot do).  Built in as the top-level module `pyseccomp`; names, argument
conversions and errors follow pyseccomp's, so the same profile compiles to the same BPF.

Provided: get_api(), resolve_syscall(), Arch, Arg, SyscallFilter(defaction) with set_attr,
add_arch, exist_arch, add_rule, export_bpf; and LIBSECCOMP_VERSION (not in pyseccomp)."""

import os

from libc.errno cimport EEXIST, EINVAL
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport free

cdef extern from "seccomp.h":
    ctypedef void *scmp_filter_ctx
    cdef struct scmp_arg_cmp:
        unsigned int arg
        int op
        uint64_t datum_a
        uint64_t datum_b
    unsigned int seccomp_api_get()
    scmp_filter_ctx seccomp_init(uint32_t def_action)
    void seccomp_release(scmp_filter_ctx ctx)
    int seccomp_attr_set(scmp_filter_ctx ctx, int attr, uint32_t value)
    int seccomp_arch_exist(scmp_filter_ctx ctx, uint32_t arch_token)
    int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token)
    int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name)
    char *seccomp_syscall_resolve_num_arch(uint32_t arch_token, int num)
    int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                               unsigned int arg_cnt, const scmp_arg_cmp *arg_array)
    int seccomp_export_bpf(scmp_filter_ctx ctx, int fd)
    cdef struct scmp_version:
        unsigned int major
        unsigned int minor
        unsigned int micro
    const scmp_version *seccomp_version()

# Not pyseccomp API: the linked-in libseccomp's version, e.g. (2, 5, 4).  The dynamic build reads
# it from libseccomp's file name, which a static executable does not have.
LIBSECCOMP_VERSION = (seccomp_version().major, seccomp_version().minor, seccomp_version().micro)

# pyseccomp passes these through ctypes, which truncates ints to the C type: do the same.
cdef inline uint32_t _u32(object v):
    return <uint32_t>(v & 0xFFFFFFFF)


cdef inline int _int(object v):
    return <int>(<uint32_t>(v & 0xFFFFFFFF))


cdef inline uint64_t _u64(object v):
    return <uint64_t>(v & 0xFFFFFFFFFFFFFFFF)


def _build_oserror(int eno):
    return OSError(eno, os.strerror(eno), None, None, None)


cdef inline _check_status(int res):
    if res < 0:
        raise _build_oserror(-res)


class Arch:
    NATIVE = 0
    X86 = 3 | 0x40000000
    X86_64 = 62 | 0x80000000 | 0x40000000
    X32 = 62 | 0x40000000
    ARM = 40 | 0x40000000
    AARCH64 = 183 | 0x80000000 | 0x40000000
    MIPS = 8
    MIPS64 = 8 | 0x80000000
    MIPS64N32 = 8 | 0x80000000 | 0x20000000
    MIPSEL = 8 | 0x40000000
    MIPSEL64 = 8 | 0x80000000 | 0x40000000
    MIPSEL64N32 = 8 | 0x80000000 | 0x40000000 | 0x20000000
    PARISC = 15
    PARISC64 = 15 | 0x80000000
    PPC = 20
    PPC64 = 21 | 0x80000000
    PPC64LE = 21 | 0x80000000 | 0x40000000
    S390 = 22
    S390X = 22 | 0x80000000
    RISCV64 = 243 | 0x80000000 | 0x40000000


class Arg:
    def __init__(self, arg, op, data_a, data_b=0):
        self._arg = arg
        self._op = op
        self._data_a = data_a
        self._data_b = data_b


def get_api():
    return seccomp_api_get()


def resolve_syscall(arch, syscall):
    cdef char *name
    if isinstance(syscall, int):
        name = seccomp_syscall_resolve_num_arch(_u32(arch), _int(syscall))
        if name == NULL:
            raise ValueError("Unknown syscall {} on arch {}".format(syscall, arch))
        try:
            return <bytes>name
        finally:
            free(name)
    return seccomp_syscall_resolve_name_arch(_u32(arch), syscall.encode())


cdef class SyscallFilter:
    cdef scmp_filter_ctx _filter
    cdef readonly object _defaction

    def __cinit__(self, defaction):
        self._defaction = defaction
        self._filter = seccomp_init(_u32(defaction))
        if self._filter == NULL:
            # as pyseccomp: assume EINVAL, though it could be ENOMEM
            raise _build_oserror(EINVAL)

    def __dealloc__(self):
        if self._filter != NULL:
            seccomp_release(self._filter)

    def set_attr(self, attr, value):
        _check_status(seccomp_attr_set(self._filter, _int(attr), _u32(value)))

    def add_arch(self, arch):
        _check_status(seccomp_arch_add(self._filter, _u32(arch)))

    def exist_arch(self, arch):
        cdef int res = seccomp_arch_exist(self._filter, _u32(arch))
        if res == 0:
            return True
        if res == -EEXIST:
            return False
        raise _build_oserror(-res)

    def add_rule(self, action, syscall, *args):
        cdef scmp_arg_cmp arr[6]
        cdef Py_ssize_t i
        if isinstance(syscall, str):
            syscall = resolve_syscall(Arch.NATIVE, syscall)
        if len(args) > 6:
            raise ValueError("Too many arguments")
        for i in range(len(args)):
            a = args[i]
            arr[i].arg = <unsigned int>_u32(a._arg)
            arr[i].op = _int(a._op)
            arr[i].datum_a = _u64(a._data_a)
            arr[i].datum_b = _u64(a._data_b)
        _check_status(seccomp_rule_add_array(self._filter, _u32(action), _int(syscall),
                                             <unsigned int>len(args), arr))

    def export_bpf(self, file):
        _check_status(seccomp_export_bpf(self._filter, file.fileno()))
