/* The zap image format, version 1.
 *
 * An image is a directory.  It holds one pod file (`pod.img`) naming the
 * processes, and one process file per process (`<pid>.img`).  Both use the
 * same container: a header page, a section table, metadata sections, then
 * page data aligned to 4096 so that a restorer can map it instead of
 * copying it.  Everything is little-endian x86-64; every section carries a
 * length and a checksum, and every run of page data carries its own
 * checksum.  docs/image-format.md describes the layout for a person.
 *
 * This header is shared by the preload (which writes images from a signal
 * handler), the static restorer (musl, no glibc) and the tools, so it
 * includes nothing but <stdint.h>.
 */
#ifndef ZAP_IMAGE_H
#define ZAP_IMAGE_H

#include <stdint.h>

#define ZAP_IMG_MAGIC "ZAPIMG\r\n" /* 8 bytes, no terminator in the file */
#define ZAP_IMG_VERSION 2          /* bump when a record changes shape (2: pods of several processes) */
#define ZAP_IMG_ARCH_X86_64 62     /* EM_X86_64 */
#define ZAP_IMG_PAGE 4096u

/* What a file is: the pod manifest or one process. */
enum zap_img_kind {
	ZAP_IMG_KIND_POD = 1,
	ZAP_IMG_KIND_PROC = 2,
	ZAP_IMG_KIND_SYSV = 3, /* sysv.img: the pod's SysV IPC objects */
};

/* The pod's SysV objects live in one file of the image directory, written
 * by the checkpoint coordinator while every member is stopped. */
#define ZAP_SYSV_IMG "sysv.img"

/* At offset 0 of every image file. */
struct zap_img_header {
	char magic[8];
	uint32_t version;
	uint32_t arch;
	uint32_t page_size;
	uint32_t kind;        /* enum zap_img_kind */
	uint32_t nsect;       /* entries in the section table */
	uint32_t header_sum;  /* zap_img_header_sum: header (this field 0) + table */
	uint64_t sect_off;    /* offset of the section table */
	uint64_t file_size;   /* the whole file; shorter means truncated */
	uint64_t created_ns;  /* CLOCK_REALTIME when this file was finished */
	uint64_t reserved[3];
};

enum zap_sect_type {
	ZAP_SECT_POD = 1,     /* struct zap_img_pod, then zap_img_member[] */
	ZAP_SECT_PROC,        /* struct zap_img_proc */
	ZAP_SECT_THREADS,     /* struct zap_img_thread[] */
	ZAP_SECT_REGIONS,     /* struct zap_img_region[] */
	ZAP_SECT_RUNS,        /* struct zap_img_run[] */
	ZAP_SECT_FDS,         /* struct zap_img_fd[] */
	ZAP_SECT_STRINGS,     /* NUL-terminated strings, referenced by offset */
	ZAP_SECT_PAGES,       /* page data; checksummed per run, not as a whole */
	ZAP_SECT_FILEDATA,    /* bytes of deleted-but-open files, page aligned */
	ZAP_SECT_POD_FDS,     /* pod file: struct zap_img_pod_fd[], fds shared between members */
	ZAP_SECT_SYSV,        /* struct zap_img_sysv[] (sysv.img) */
	ZAP_SECT_SYSV_DATA,   /* their contents; checksummed per object, not as a whole */
	ZAP_SECT_POD_SHM,     /* pod file: struct zap_img_pod_shm[], memory shared between members */
	ZAP_SECT_MAX
};

struct zap_img_section {
	uint32_t type;        /* enum zap_sect_type */
	uint32_t count;       /* records in it (0 for byte sections) */
	uint64_t off;
	uint64_t len;
	uint64_t sum;         /* zap_sum64 of the bytes (0 for PAGES) */
};

/* ---- pod file ---- */
struct zap_img_pod {
	char name[64];
	uint32_t nmembers;
	uint32_t signal;      /* the checkpoint signal */
	uint64_t generation;  /* how many checkpoints this pod has had */
};

enum zap_member_flags {
	ZAP_MEMBER_ZOMBIE = 1 << 0, /* exited, not yet reaped: no file, exit_status */
};

struct zap_img_member {
	int32_t pid;          /* the pid the process saw itself as (its vpid) */
	int32_t ppid;         /* its parent's vpid; 0 when the parent is not in the pod */
	char file[32];        /* "<pid>.img"; empty for a zombie */
	uint32_t flags;       /* enum zap_member_flags */
	int32_t exit_status;  /* a zombie's status, as wait() reports it */
	int32_t pgid, sid;    /* vpids; 0 when the group's leader is not in the pod */
};

/* One fd of one member that shares its open file description with fds of
 * other members (a pipe between them, a file a parent and its child both
 * write).  Every record with the same object is one description; the first
 * record's fd in its member's process file describes it.  A pipe's two
 * ends are two objects with the same pipe (inode, aux[0] of the fds). */
struct zap_img_pod_fd {
	int32_t pid;          /* the member's vpid */
	int32_t fd;
	uint32_t object;
	uint32_t pad;
};

/* One mapping of one member of a shared memory object without a file
 * (MAP_SHARED | MAP_ANONYMOUS before a fork, a memfd) that other members
 * map too.  Every record with the same object is one object of size
 * bytes, made once at restart and filled from the members' stored pages;
 * each member maps it where its region was. */
struct zap_img_pod_shm {
	int32_t pid;          /* the member's vpid */
	uint32_t region;      /* index in its process file's REGIONS */
	uint32_t object;
	uint32_t pad;
	uint64_t size;        /* the object's size, as far as members map it */
};

/* ---- process file ---- */
#define ZAP_NSIG 64
#define ZAP_NRLIMIT 16
#define ZAP_AUXV_WORDS 64

struct zap_img_sigaction {  /* the kernel's struct, as rt_sigaction sees it */
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct zap_img_timer {      /* one itimer, as seconds and microseconds */
	int64_t interval_sec, interval_usec;
	int64_t value_sec, value_usec;
};

struct zap_img_rlimit {
	uint64_t cur, max;
};

/* struct prctl_mm_map's address fields, read from /proc/self/stat. */
struct zap_img_mm {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
};

struct zap_img_proc {
	int32_t pid, ppid;
	uint32_t umask;
	uint32_t nthreads;
	char comm[16];
	uint32_t cwd_str;          /* offsets into STRINGS */
	uint32_t exe_str;
	uint64_t restore_info;     /* address of the preload's zap_restore_info */
	uint64_t vdso_block_start; /* [vvar] .. end of [vdso] */
	uint64_t vdso_block_end;
	uint64_t vdso_start;       /* the [vdso] VMA itself */
	uint64_t reserved0;        /* 0 in version 1 */
	uint64_t pending_shared;   /* process-wide pending signals (bit n-1) */
	struct zap_img_mm mm;
	uint64_t auxv[ZAP_AUXV_WORDS];
	uint32_t auxv_words;
	uint32_t signal;           /* the checkpoint signal */
	struct zap_img_sigaction sigactions[ZAP_NSIG]; /* index = signal - 1 */
	struct zap_img_timer itimers[3];               /* REAL, VIRTUAL, PROF */
	struct zap_img_rlimit rlimits[ZAP_NRLIMIT];
};

enum zap_thread_flags {
	ZAP_THREAD_MAIN = 1 << 0,    /* tid == pid */
	ZAP_THREAD_LEADER = 1 << 1,  /* wrote the image */
};

/* Where a thread stopped inside the checkpoint handler.  Restoring these
 * makes zap_ctx_save() return 1; the registers the program was using when
 * the signal came are in the kernel's signal frame on the thread's stack,
 * and come back whole (FPU and AVX included) when the handler returns. */
struct zap_img_ctx {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

struct zap_img_thread {
	int32_t tid;
	uint32_t flags;              /* enum zap_thread_flags */
	uint64_t fs_base;
	struct zap_img_ctx ctx;
	uint64_t sigmask;            /* mask inside the handler */
	uint64_t pending;            /* thread-directed pending signals */
	uint64_t ss_sp, ss_size;     /* sigaltstack */
	int32_t ss_flags;
	uint32_t rseq_len;           /* 0: no rseq area registered */
	uint64_t rseq_addr;
	uint32_t rseq_sig;
	uint32_t pad;
	uint64_t robust_head, robust_len;
	uint64_t tid_addr;           /* glibc's cached tid (fs_base + offset) */
	uint64_t ucontext;           /* the signal frame, for `inspect --stacks` */
};

enum zap_region_flags {
	ZAP_REG_SHARED = 1 << 0,     /* MAP_SHARED (else private) */
	ZAP_REG_FILE = 1 << 1,       /* backed by a file we map again */
	ZAP_REG_HEAP = 1 << 2,       /* [heap] */
	ZAP_REG_STACK = 1 << 3,      /* [stack] */
	ZAP_REG_GROWSDOWN = 1 << 4,
	ZAP_REG_HUGEPAGE = 1 << 5,   /* madvise(MADV_HUGEPAGE) */
	ZAP_REG_NOHUGEPAGE = 1 << 6,
	ZAP_REG_DONTFORK = 1 << 7,
	ZAP_REG_DELETED = 1 << 8,    /* its file is gone: every page is stored */
	ZAP_REG_LOCKED = 1 << 9,
	ZAP_REG_SYSV = 1 << 10,      /* a SysV shm segment (sysv_id): attached again, pages
	                              * in sysv.img, none here; pgoff: offset in the segment */
	ZAP_REG_SYSV_DEST = 1 << 11, /* its segment was marked removed (IPC_RMID) */
};

struct zap_img_region {
	uint64_t start, end;
	uint32_t prot;               /* PROT_* */
	uint32_t flags;              /* enum zap_region_flags */
	uint64_t pgoff;              /* file offset in bytes */
	uint32_t path_str;           /* 0: none */
	uint32_t first_run, nruns;
	int32_t sysv_id;             /* ZAP_REG_SYSV: the segment's virtual id; else 0 */
	/* identity of the file, checked before it is mapped again */
	uint64_t file_size;
	int64_t mtime_sec, mtime_nsec;
	/* shared memory without a file (anonymous shared, memfd): the inode of
	 * its shmem object, by which the mappings members of a pod have of one
	 * object are joined again (POD_SHM); else 0 */
	uint64_t shm_ino;
};

/* A run of stored pages: npages pages at addr, in the file at data_off. */
struct zap_img_run {
	uint64_t addr;
	uint64_t npages;
	uint64_t data_off;
	uint64_t sum;                /* zap_sum64 of the page data */
};

enum zap_fd_kind {
	ZAP_FD_INHERIT = 1,  /* stdio bound to the restarting command's stdio; aux[0] its inode
	                      * (a pipe to another member of the pod is joined again) */
	ZAP_FD_REG,          /* regular file: path, flags, offset */
	ZAP_FD_DIR,
	ZAP_FD_CHR,          /* a device reopened by path (/dev/null …) */
	ZAP_FD_DELETED,      /* a deleted regular file; bytes in FILEDATA */
	ZAP_FD_CLOSED_ON_RESTORE, /* a kind zap cannot bring back alone; aux[0] its inode.  The
	                      * read end of a pipe (this, or INHERIT): aux[2] pipe size,
	                      * aux[3] 1 = FILEDATA holds the bytes waiting in it */
	ZAP_FD_EVENTFD,      /* aux[0] count, aux[1] 1 if EFD_SEMAPHORE */
	ZAP_FD_TIMERFD,      /* aux[0] clockid, aux[1..2] interval s/ns, aux[3..4] left s/ns, aux[5] ticks */
	ZAP_FD_SIGNALFD,     /* aux[0] signal mask */
	ZAP_FD_EPOLL,        /* FILEDATA: struct zap_img_epoll_target[] */
	ZAP_FD_PIPE_READ,    /* read end of a pipe whose write end is here too: aux[0] inode,
	                      * aux[1] the write end's fd, aux[2] pipe size; FILEDATA: its bytes */
	ZAP_FD_PIPE_WRITE,   /* write end of such a pipe: aux[1] the read end's fd */
	ZAP_FD_SOCKPAIR,     /* one end of a UNIX socketpair whose other end is here too:
	                      * aux[0] inode, aux[1] the other end's fd, aux[3] the peer's inode,
	                      * aux[4] SOCK_STREAM/DGRAM/SEQPACKET; FILEDATA: bytes waiting for it */
	ZAP_FD_SOCKET,       /* any other socket, made again by itself (ckpt/sock.c): aux[0] inode,
	                      * aux[1] family | type << 16 | protocol << 32, aux[2] enum
	                      * zap_sock_state | backlog << 32, aux[3] the peer's inode when a pod
	                      * may join the connection again (a UNIX peer; a TCP peer that is
	                      * another member's socket), else 0, aux[4] enum zap_sock_opt bits,
	                      * aux[5] SO_RCVBUF | SO_SNDBUF << 32 as getsockopt reads them (0: the
	                      * default); FILEDATA: struct zap_img_sock_addr, then the bytes
	                      * waiting for it (connections whose aux[3] is set) */
	ZAP_FD_KIND_MAX = ZAP_FD_SOCKET,
};

/* What a ZAP_FD_SOCKET was doing, and so what it comes back as. */
enum zap_sock_state {
	ZAP_SOCK_UNBOUND = 1,  /* neither bound nor connected: a fresh socket of its kind */
	ZAP_SOCK_BOUND,        /* bound, not listening nor connected (UDP): bound again */
	ZAP_SOCK_LISTEN,       /* bound and listening: bound again, listening, backlog kept */
	ZAP_SOCK_CONNECTED,    /* connected (to a peer outside the pod): comes back failed, TCP
	                        * reset, UNIX stream closed by its peer; UDP connected again */
};

/* Socket options kept (aux[4]); SO_RCVBUF/SO_SNDBUF are in aux[5]. */
enum zap_sock_opt {
	ZAP_SOCKOPT_REUSEADDR = 1 << 0,
	ZAP_SOCKOPT_REUSEPORT = 1 << 1,
	ZAP_SOCKOPT_KEEPALIVE = 1 << 2,
	ZAP_SOCKOPT_NODELAY = 1 << 3,    /* TCP_NODELAY */
	ZAP_SOCKOPT_V6ONLY = 1 << 4,     /* IPV6_V6ONLY */
	ZAP_SOCKOPT_BROADCAST = 1 << 5,
	ZAP_SOCKOPT_PASSCRED = 1 << 6,   /* UNIX */
	ZAP_SOCKOPT_SENT_FIN = 1 << 7,   /* TCP: this end shut down writing (its FIN is sent) */
	ZAP_SOCKOPT_GOT_FIN = 1 << 8,    /* TCP: its peer did (read gives EOF after the bytes) */
};

/* The addresses of a ZAP_FD_SOCKET, at the start of its FILEDATA: raw
 * sockaddrs as getsockname/getpeername returned them (len 0: none). */
#define ZAP_SOCKADDR_MAX 112
struct zap_img_sock_addr {
	uint32_t local_len, peer_len;
	uint8_t local[ZAP_SOCKADDR_MAX];
	uint8_t peer[ZAP_SOCKADDR_MAX];
};

/* One registration of an epoll fd: what epoll_ctl(ADD) was given. */
struct zap_img_epoll_target {
	int32_t fd;
	uint32_t events;
	uint64_t data;
};

struct zap_img_fd {
	int32_t fd;
	uint32_t kind;       /* enum zap_fd_kind */
	uint32_t open_flags; /* O_* as fdinfo shows them */
	uint32_t fd_flags;   /* FD_CLOEXEC */
	int32_t dup_of;      /* -1, or a lower fd sharing this open file description */
	uint32_t has_tty;    /* 1: tty holds the terminal's settings (stdio on a terminal) */
	uint64_t pos;
	uint32_t path_str;
	uint32_t mode;       /* st_mode */
	uint64_t data_off, data_len; /* ZAP_FD_DELETED: the file's bytes */
	uint64_t data_sum;
	uint64_t file_size;
	int64_t mtime_sec, mtime_nsec;
	uint8_t tty[36];     /* struct termios as TCGETS returns it */
	uint32_t pad2;
	uint64_t aux[6];     /* per kind, see enum zap_fd_kind */
};

/* ---- sysv.img ---- */
enum zap_sysv_flags {
	ZAP_SYSV_PKEY = 1 << 0,    /* pkey is the key the program passed */
	ZAP_SYSV_DEST = 1 << 1,    /* shm marked removed (IPC_RMID), still attached */
	ZAP_SYSV_OUTSIDE = 1 << 2, /* attached by a member but never got through the pod's
	                            * shmget: comes back as a private segment */
	ZAP_SYSV_SEMOP = 1 << 3,   /* sem: semop had run on it (sem_otime != 0) */
};

/* One object.  Its bytes in SYSV_DATA, by kind: shm the segment's size
 * bytes, at a page-aligned offset; sem `size` uint16 values; msg `size`
 * messages in queue order, each an int64 type, a uint64 length, the bytes,
 * padded to 8. */
struct zap_img_sysv {
	uint32_t kind;        /* enum zap_vtab_ipc_kind (zap/vtab.h): 1 shm, 2 sem, 3 msg */
	uint32_t flags;       /* enum zap_sysv_flags */
	int32_t vid;          /* the id the program knows */
	int32_t key;          /* the kernel's key: the pod's hash of pkey; 0 IPC_PRIVATE */
	int32_t pkey;         /* the program's key (ZAP_SYSV_PKEY) */
	uint32_t mode;        /* permission bits */
	uint32_t uid, gid;    /* owner */
	uint64_t size;        /* shm: bytes; sem: semaphores; msg: messages */
	uint64_t qbytes;      /* msg: the queue's byte limit */
	uint64_t data_off, data_len;
	uint64_t data_sum;    /* zap_sum_pages(bytes, data_len, kind) */
	uint64_t reserved[2];
};

/* The restorer fills this in inside the restored process (its address is
 * zap_img_proc.restore_info) so the preload knows what happened. */
#define ZAP_RESTORE_MAGIC 0x7a61707265737472ull /* "zaprestr" */
#define ZAP_RESTORE_MAX_THREADS 4096
enum zap_restore_flags {
	ZAP_RESTORE_NO_MM = 1 << 0, /* brk/argv/auxv not restored (PR_SET_MM_MAP refused) */
};

struct zap_restore_info {
	uint64_t magic;
	uint64_t arena_start, arena_end; /* the restorer's memory, to unmap */
	int32_t old_pid, new_pid;
	uint32_t nthreads;
	uint32_t flags;              /* enum zap_restore_flags */
	char zap_home[256];
	char pod[64];
};

#endif
