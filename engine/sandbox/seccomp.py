"""A seccomp filter each job's child installs before it runs any job code.

It answers ``EPERM`` (so libraries see an ordinary error) to system calls a model has no
use for and an attacker would want, whatever route reaches them (Python, NumPy, pyarrow,
ctypes into libc, a raw ``syscall``):

- new processes and programs: ``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD``
  (threads stay allowed: nutpie samples chains on threads), ``clone3`` (``ENOSYS``, so libc
  falls back to ``clone``, whose flags the filter can read), ``execve``, ``execveat``;
- signals to anyone but itself (``kill``, ``tkill``, ``tgkill``, ``rt_*sigqueueinfo``,
  ``pidfd_*``), so a job cannot stop the warm server or a sibling;
- other processes' memory: ``ptrace``, ``process_vm_readv``/``writev``;
- sockets other than ``AF_UNIX`` (the network namespace is empty anyway);
- ``chmod`` and ``chown`` in every form, so the sealed server home and the unlistable jobs
  folder stay as they are;
- ``mknod``/``mknodat``: no pipes or device nodes (a FIFO under an output's name would hold
  the harness mid-write while another thread swapped the arrays);
- namespace, mount, keyring, BPF, perf, userfaultfd, io_uring, module and
  ``open_by_handle_at`` calls.

x86-64 only (system call numbers differ per architecture); elsewhere
:func:`seccomp_supported` says it is off. ``PR_SET_NO_NEW_PRIVS`` is set first, as the
kernel requires.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_CLONE_THREAD = 0x00010000
_AF_UNIX = 1

# classic BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JSET_K = 0x45
_JGE_K = 0x35
_RET_K = 0x06

_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000

_OFF_NR = 0
_OFF_ARCH = 4


def _arg_lo(index: int) -> int:
    return 16 + 8 * index  # low 32 bits of args[index] (little-endian)


# x86-64 system call numbers
_DENY = {
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "execveat": 322,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "pidfd_open": 434,
    "pidfd_send_signal": 424,
    "pidfd_getfd": 438,
    "unshare": 272,
    "setns": 308,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "reboot": 169,
    "swapon": 167,
    "swapoff": 168,
    "quotactl": 179,
    "acct": 163,
    "settimeofday": 164,
    "clock_settime": 227,
    "adjtimex": 159,
    "iopl": 172,
    "ioperm": 173,
    "setdomainname": 171,
    "sethostname": 170,
    # modes and owners: the server's home and the jobs folder stay as the server left them
    "chmod": 90,
    "fchmod": 91,
    "fchmodat": 268,
    "fchmodat2": 452,
    "chown": 92,
    "fchown": 93,
    "lchown": 94,
    "fchownat": 260,
    # special files: a pipe planted under an output's name holds the harness at a known point
    "mknod": 133,
    "mknodat": 259,
}
_SIGNAL_SELF_ONLY = {"kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297}
_CLONE = 56
_CLONE3 = 435
_SOCKET = 41


def seccomp_supported() -> tuple[bool, str]:
    """Whether this machine runs the filter, and one line saying what it does or why not.

    Returns
    -------
    tuple of (bool, str)
        True only on Linux on x86-64 (the filter uses its system call numbers).
    """
    if not os.uname().sysname == "Linux":
        return False, "needs Linux"
    if platform.machine() not in ("x86_64", "AMD64"):
        return False, f"written for x86-64 system call numbers; this is {platform.machine()}"
    return True, "no fork/exec, no signals to other processes, no ptrace, no sockets but AF_UNIX, no mounts"


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def build_filter(own_pid: int) -> bytes:
    """The filter program for a process whose pid (in its namespace) is ``own_pid``.

    Parameters
    ----------
    own_pid
        The process's pid in its PID namespace: the only target ``kill`` and friends may name
        (besides 0 and ``-own_pid``).

    Returns
    -------
    bytes
        Classic BPF instructions, eight bytes each: kill on a foreign architecture, EPERM for x32
        calls and the denied calls (ENOSYS for ``clone3``), ``clone`` only for threads,
        ``socket`` only for ``AF_UNIX``, signals only to itself; everything else allowed.
    """
    deny = _RET_ERRNO | errno.EPERM
    prog: list[bytes] = []
    # 0: architecture check: a foreign architecture (32-bit calls) kills the process; x32 calls get EPERM
    prog.append(_insn(_LD_W_ABS, 0, 0, _OFF_ARCH))
    prog.append(_insn(_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64))
    prog.append(_insn(_RET_K, 0, 0, _RET_KILL_PROCESS))
    prog.append(_insn(_LD_W_ABS, 0, 0, _OFF_NR))
    prog.append(_insn(_JGE_K, 0, 1, _X32_SYSCALL_BIT))
    prog.append(_insn(_RET_K, 0, 0, deny))
    # plain denials: "if nr == n: return EPERM"
    for nr in sorted(set(_DENY.values())):
        prog.append(_insn(_JEQ_K, 0, 1, nr))
        prog.append(_insn(_RET_K, 0, 0, deny))
    prog.append(_insn(_JEQ_K, 0, 1, _CLONE3))
    prog.append(_insn(_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS))
    # clone: allowed only for threads
    prog.append(_insn(_JEQ_K, 0, 4, _CLONE))
    prog.append(_insn(_LD_W_ABS, 0, 0, _arg_lo(0)))
    prog.append(_insn(_JSET_K, 1, 0, _CLONE_THREAD))
    prog.append(_insn(_RET_K, 0, 0, deny))
    prog.append(_insn(_RET_K, 0, 0, _RET_ALLOW))
    # socket: AF_UNIX only
    prog.append(_insn(_JEQ_K, 0, 4, _SOCKET))
    prog.append(_insn(_LD_W_ABS, 0, 0, _arg_lo(0)))
    prog.append(_insn(_JEQ_K, 1, 0, _AF_UNIX))
    prog.append(_insn(_RET_K, 0, 0, deny))
    prog.append(_insn(_RET_K, 0, 0, _RET_ALLOW))
    # signals: only to itself (pid 0 means its own process group, which is itself alone)
    for nr in sorted(_SIGNAL_SELF_ONLY.values()):
        prog.append(_insn(_JEQ_K, 0, 6, nr))
        prog.append(_insn(_LD_W_ABS, 0, 0, _arg_lo(0)))
        prog.append(_insn(_JEQ_K, 3, 0, own_pid))
        prog.append(_insn(_JEQ_K, 2, 0, 0))
        prog.append(_insn(_JEQ_K, 1, 0, (-own_pid) & 0xFFFFFFFF))
        prog.append(_insn(_RET_K, 0, 0, deny))
        prog.append(_insn(_RET_K, 0, 0, _RET_ALLOW))
    prog.append(_insn(_RET_K, 0, 0, _RET_ALLOW))
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def install_seccomp() -> bool:
    """Set no-new-privileges and install the filter in this process (irreversible).

    Returns False when the platform is not supported; raises ``OSError`` if the kernel
    refuses the filter.

    Returns
    -------
    bool
        True once the filter is installed.

    Raises
    ------
    OSError
        When ``prctl`` refuses no-new-privileges or the filter.
    """
    ok, _ = seccomp_supported()
    if not ok:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    program = build_filter(os.getpid())
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    return True
