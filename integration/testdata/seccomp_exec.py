"""seccomp_exec.py NR[:ERRNO] [NR[:ERRNO]...] -- COMMAND ARGS...: runs
COMMAND under a seccomp filter that refuses the system calls numbered NR
with EPERM, as a container runtime's profile may, or with ERRNO
(integration/sched_seccomp_test.go, sendfile_fallback_test.go). The
numbers are the native architecture's; other ABIs are not checked.
"""
import ctypes
import os
import struct
import sys

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, EPERM = 0x7FFF0000, 0x00050000, 1


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def main():
    sep = sys.argv.index("--")
    rules = [(int(nr), int(errno or EPERM)) for nr, _, errno in (a.partition(":") for a in sys.argv[1:sep])]
    argv = sys.argv[sep + 1:]
    insns = [(BPF_LD_W_ABS, 0, 0, 0)]  # seccomp_data.nr
    for nr, _ in rules:
        # A match jumps to its own return: past the other rules and the
        # allow, and then as many returns as there are rules before it.
        insns.append((BPF_JEQ_K, len(rules), 0, nr))
    insns.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    for _, errno in rules:
        insns.append((BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno))
    raw = b"".join(struct.pack("HBBI", *insn) for insn in insns)
    buf = ctypes.create_string_buffer(raw, len(raw))
    prog = SockFprog(len(insns), ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "installing the seccomp filter")
    os.execv(argv[0], argv)


main()
