/* Backtraces read from an image.
 *
 * The process is gone, so libunwind unwinds it "remotely", through accessors
 * that read the image: memory from the stored pages or, for a page of a
 * mapped file that was never stored (code, unwind tables, read-only data),
 * from the file itself; registers from the kernel's signal frame the
 * checkpoint handler ran on, so that the first frame is the program code the
 * signal interrupted, not the handler.  Unwind tables are found through each
 * ELF file's PT_GNU_EH_FRAME (.eh_frame_hdr), names in its .symtab, its
 * debug file's or its .dynsym.  A file the image holds whole (deleted,
 * replaced, zap's own library) is read from its stored pages instead: it
 * unwinds, but its names are in section headers no page maps. */
#include "stacks.h"

#include <elf.h>
#include <fcntl.h>
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/ucontext.h>
#include <unistd.h>

/* Exported by libunwind but not declared: the binary search of an
 * .eh_frame_hdr table, then the decoding of the FDE it finds. */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

#define MAX_FILES 128
#define MAX_PHDRS 32
#define MAX_SYMTAB (256u << 20) /* bytes; a bigger table is not worth reading */

struct elf_file {
	const char *path;
	int fd;       /* -1: unreadable, not the file that was mapped, or stored */
	int stored;   /* the image holds all of its mapped pages */
	int nph;      /* 0: not an ELF file we understand */
	Elf64_Phdr ph[MAX_PHDRS];
	int syms_tried;
	Elf64_Sym *syms;
	size_t nsyms;
	char *names;  /* NUL-terminated past its end, so any in-range name is */
	size_t names_len;
};

struct unwind {
	const struct zap_img *img;
	greg_t gregs[NGREG]; /* the interrupted code's registers */
	struct elf_file files[MAX_FILES];
	int nfiles;
	char note[160];      /* the first file we could not use, for the reason */
};

static const struct zap_img_region *find_region(const struct zap_img *img, uint64_t addr)
{
	uint32_t lo = 0, hi = img->nregions; /* sorted and disjoint: zap_img_open checked */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct zap_img_region *r = &img->regions[mid];
		if (addr < r->start)
			hi = mid;
		else if (addr >= r->end)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* len bytes of fd at off in a new buffer, with a NUL after them. */
static void *read_alloc(int fd, uint64_t off, uint64_t len)
{
	char *buf = len < MAX_SYMTAB ? malloc(len + 1) : NULL;
	if (buf && pread(fd, buf, len, (off_t)off) == (ssize_t)len) {
		buf[len] = 0;
		return buf;
	}
	free(buf);
	return NULL;
}

static int mem_read(struct unwind *u, uint64_t addr, void *buf, size_t len);

/* Reads the mapped file at off: from the file, or for a file the image
 * holds whole (deleted, replaced, zap's own library) from the memory that
 * maps that part of it, if any does. */
static int file_read(struct unwind *u, const struct elf_file *f, uint64_t off, void *buf,
		     size_t len)
{
	if (f->fd >= 0)
		return pread(f->fd, buf, len, (off_t)off) == (ssize_t)len ? 0 : -1;
	for (uint32_t i = 0; f->stored && i < u->img->nregions; i++) {
		const struct zap_img_region *r = &u->img->regions[i];
		if ((r->flags & ZAP_REG_DELETED) && off >= r->pgoff &&
		    off + len <= r->pgoff + (r->end - r->start) &&
		    !strcmp(zap_img_str(u->img, r->path_str), f->path))
			return mem_read(u, r->start + (off - r->pgoff), buf, len);
	}
	return -1;
}

/* Opens the ELF file, once per process; reads its headers. */
static void file_load(struct unwind *u, struct elf_file *f, const struct zap_img_region *r)
{
	f->stored = !!(r->flags & ZAP_REG_DELETED);
	struct stat st;
	f->fd = -1;
	int fd = f->stored ? -1 : open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == r->file_size &&
	    st.st_mtim.tv_sec == r->mtime_sec && st.st_mtim.tv_nsec == r->mtime_nsec) {
		f->fd = fd;
	} else if (!f->stored) {
		/* its pages that were never stored are not in the image, and a
		 * changed file would give wrong ones */
		if (!u->note[0])
			snprintf(u->note, sizeof(u->note), "%s is %s", f->path,
				 fd < 0 ? "gone" : "not the file that was mapped");
		if (fd >= 0)
			close(fd);
		return;
	}
	Elf64_Ehdr e;
	if (file_read(u, f, 0, &e, sizeof(e)) < 0 || memcmp(e.e_ident, ELFMAG, SELFMAG) ||
	    e.e_ident[EI_CLASS] != ELFCLASS64 || e.e_machine != EM_X86_64 ||
	    e.e_phentsize != sizeof(Elf64_Phdr) || e.e_phnum > MAX_PHDRS)
		return;
	if (file_read(u, f, e.e_phoff, f->ph, e.e_phnum * sizeof(Elf64_Phdr)) == 0)
		f->nph = e.e_phnum;
}

/* The file mapped by region r, or NULL when r maps none. */
static struct elf_file *file_get(struct unwind *u, const struct zap_img_region *r)
{
	if (!(r->flags & (ZAP_REG_FILE | ZAP_REG_DELETED)))
		return NULL;
	const char *path = zap_img_str(u->img, r->path_str);
	int stored = !!(r->flags & ZAP_REG_DELETED); /* an old copy is not the file there now */
	for (int i = 0; i < u->nfiles; i++)
		if (!strcmp(u->files[i].path, path) && u->files[i].stored == stored)
			return &u->files[i];
	if (u->nfiles == MAX_FILES)
		return NULL;
	struct elf_file *f = &u->files[u->nfiles++];
	memset(f, 0, sizeof(*f));
	f->path = path;
	file_load(u, f, r);
	return f;
}

/* The PT_LOAD segment that region r maps, and the load bias: what to add to
 * the file's addresses to get the process's. */
static const Elf64_Phdr *file_segment(const struct elf_file *f, const struct zap_img_region *r,
				      uint64_t *bias)
{
	for (int i = 0; i < f->nph; i++) {
		const Elf64_Phdr *p = &f->ph[i];
		uint64_t page_off = p->p_offset & ~(uint64_t)(ZAP_IMG_PAGE - 1);
		if (p->p_type == PT_LOAD && page_off <= r->pgoff &&
		    r->pgoff < p->p_offset + p->p_filesz) {
			*bias = r->start - (p->p_vaddr + r->pgoff - p->p_offset);
			return p;
		}
	}
	return NULL;
}

/* Reads len bytes of the process's memory at addr, as the process saw it. */
static int mem_read(struct unwind *u, uint64_t addr, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		const struct zap_img_region *r = find_region(u->img, addr);
		if (!r || !(r->prot & PROT_READ))
			return -1;
		size_t n = ZAP_IMG_PAGE - addr % ZAP_IMG_PAGE;
		if (n > len)
			n = len;
		const struct zap_img_run *run = NULL;
		for (uint32_t k = 0; k < r->nruns && !run; k++) {
			const struct zap_img_run *x = &u->img->runs[r->first_run + k];
			if (addr >= x->addr && addr - x->addr < x->npages * ZAP_IMG_PAGE)
				run = x;
		}
		struct elf_file *f = run ? NULL : file_get(u, r);
		if (run) {
			off_t at = (off_t)(run->data_off + addr - run->addr);
			if (pread(u->img->fd, p, n, at) != (ssize_t)n)
				return -1;
		} else if (f) {
			off_t at = (off_t)(r->pgoff + addr - r->start);
			ssize_t got = f->fd < 0 ? -1 : pread(f->fd, p, n, at);
			if (got < 0)
				return -1;
			memset(p + got, 0, n - (size_t)got); /* past the end of the file */
		} else {
			memset(p, 0, n); /* an anonymous page never touched */
		}
		p += n;
		addr += n;
		len -= n;
	}
	return 0;
}

/* ---- libunwind's accessors ---- */

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need,
			  void *arg)
{
	struct unwind *u = arg;
	const struct zap_img_region *r = find_region(u->img, ip);
	struct elf_file *f = r ? file_get(u, r) : NULL;
	uint64_t bias = 0;
	const Elf64_Phdr *load = f ? file_segment(f, r, &bias) : NULL, *eh = NULL;
	for (int i = 0; load && i < f->nph; i++)
		if (f->ph[i].p_type == PT_GNU_EH_FRAME)
			eh = &f->ph[i];
	/* version 1, a 4-byte eh_frame pointer (DW_EH_PE_[su]data4), a count
	 * (udata4), then the sorted (start, FDE) table as 4-byte offsets from
	 * the header (datarel|sdata4): the only layout the search takes, and
	 * what linkers write */
	uint8_t h[12];
	if (!eh || file_read(u, f, eh->p_offset, h, sizeof(h)) < 0 || h[0] != 1 ||
	    (h[1] & 0x7) != 0x3 || h[2] != 0x03 || h[3] != 0x3b)
		return -UNW_ENOINFO;
	uint32_t count;
	memcpy(&count, h + 8, 4);
	unw_dyn_info_t di = {
		.start_ip = bias + load->p_vaddr,
		.end_ip = bias + load->p_vaddr + load->p_memsz,
		.format = UNW_INFO_FORMAT_REMOTE_TABLE,
		.u.rti = {.segbase = bias + eh->p_vaddr,
			  .table_data = bias + eh->p_vaddr + sizeof(h),
			  .table_len = (uint64_t)count * 8 / sizeof(unw_word_t)},
	};
	return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi, need, arg);
}

/* Unwind info from the table format is freed by libunwind itself. */
static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	(void)as, (void)pi, (void)arg;
}

/* No JIT-registered unwind info: it lives in the dead process's tables. */
static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	(void)as, (void)addr, (void)arg;
	return -UNW_ENOINFO;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
	(void)as;
	if (write)
		return -UNW_EINVAL;
	return mem_read(arg, addr, val, sizeof(*val)) < 0 ? -UNW_EINVAL : 0;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
	/* libunwind numbers registers as DWARF does; the frame in kernel order */
	static const int8_t greg[] = {
		[UNW_X86_64_RAX] = REG_RAX, [UNW_X86_64_RDX] = REG_RDX, [UNW_X86_64_RCX] = REG_RCX,
		[UNW_X86_64_RBX] = REG_RBX, [UNW_X86_64_RSI] = REG_RSI, [UNW_X86_64_RDI] = REG_RDI,
		[UNW_X86_64_RBP] = REG_RBP, [UNW_X86_64_RSP] = REG_RSP, [UNW_X86_64_R8] = REG_R8,
		[UNW_X86_64_R9] = REG_R9,   [UNW_X86_64_R10] = REG_R10, [UNW_X86_64_R11] = REG_R11,
		[UNW_X86_64_R12] = REG_R12, [UNW_X86_64_R13] = REG_R13, [UNW_X86_64_R14] = REG_R14,
		[UNW_X86_64_R15] = REG_R15, [UNW_X86_64_RIP] = REG_RIP,
	};
	struct unwind *u = arg;
	(void)as;
	if (write)
		return -UNW_EREADONLYREG;
	if (reg < 0 || reg > UNW_X86_64_RIP)
		return -UNW_EBADREG;
	*val = (unw_word_t)u->gregs[greg[reg]];
	return 0;
}

/* Reads the symbol table of type `type` from the ELF file open at fd. */
static void load_symbols(struct elf_file *f, int fd, uint32_t type)
{
	Elf64_Ehdr e;
	if (f->syms || pread(fd, &e, sizeof(e), 0) != sizeof(e) ||
	    e.e_shentsize != sizeof(Elf64_Shdr))
		return;
	Elf64_Shdr *sh = read_alloc(fd, e.e_shoff, (uint64_t)e.e_shnum * sizeof(*sh));
	int pick = -1;
	for (int i = 0; sh && i < e.e_shnum; i++)
		if (sh[i].sh_type == type)
			pick = i;
	if (pick >= 0 && sh[pick].sh_link < e.e_shnum && sh[pick].sh_entsize == sizeof(Elf64_Sym)) {
		const Elf64_Shdr *s = &sh[pick], *str = &sh[s->sh_link];
		f->syms = read_alloc(fd, s->sh_offset, s->sh_size);
		f->nsyms = s->sh_size / sizeof(Elf64_Sym);
		f->names = read_alloc(fd, str->sh_offset, str->sh_size);
		f->names_len = str->sh_size;
		if (!f->names) {
			free(f->syms);
			f->syms = NULL;
		}
	}
	free(sh);
}

/* Distributions strip .symtab from what they install and ship it apart
 * (Debian's libc6-dbg), in a file named after the build id. */
static int open_debug_file(struct unwind *u, const struct elf_file *f)
{
	for (int i = 0; i < f->nph; i++) {
		uint8_t note[1024];
		size_t len = f->ph[i].p_filesz < sizeof(note) ? f->ph[i].p_filesz : sizeof(note);
		if (f->ph[i].p_type != PT_NOTE || file_read(u, f, f->ph[i].p_offset, note, len) < 0)
			continue;
		for (size_t at = 0; at + sizeof(Elf64_Nhdr) <= len;) {
			Elf64_Nhdr n;
			memcpy(&n, note + at, sizeof(n));
			size_t name = at + sizeof(n), desc = name + ((n.n_namesz + 3) & ~3u);
			at = desc + ((n.n_descsz + 3) & ~3u);
			if (n.n_type != NT_GNU_BUILD_ID || n.n_namesz != 4 ||
			    memcmp(note + name, "GNU", 4) || n.n_descsz < 2 || n.n_descsz > 64 ||
			    at > len)
				continue;
			char path[200];
			int k = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/");
			for (uint32_t j = 0; j < n.n_descsz; j++) /* ab/cdef... */
				k += snprintf(path + k, sizeof(path) - k, "%s%02x",
					      j == 1 ? "/" : "", note[desc + j]);
			snprintf(path + k, sizeof(path) - k, ".debug");
			return open(path, O_RDONLY | O_CLOEXEC);
		}
	}
	return -1;
}

/* The fullest symbol table there is: the file's own .symtab, the one in its
 * debug file, else its .dynsym (exported functions only). */
static int file_symbols(struct unwind *u, struct elf_file *f)
{
	if (f->syms_tried || !f->nph)
		return f->syms ? 0 : -1;
	f->syms_tried = 1;
	load_symbols(f, f->fd, SHT_SYMTAB);
	int dbg = f->syms ? -1 : open_debug_file(u, f);
	if (dbg >= 0) {
		load_symbols(f, dbg, SHT_SYMTAB);
		close(dbg);
	}
	load_symbols(f, f->fd, SHT_DYNSYM);
	return f->syms ? 0 : -1;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t ip, char *buf, size_t len,
			 unw_word_t *off, void *arg)
{
	struct unwind *u = arg;
	const struct zap_img_region *r = find_region(u->img, ip);
	struct elf_file *f = r ? file_get(u, r) : NULL;
	uint64_t bias;
	(void)as;
	if (!f || !file_segment(f, r, &bias) || file_symbols(u, f) < 0)
		return -UNW_ENOINFO;
	/* of the aliases covering ip, the one a person would write: global
	 * rather than local, `nanosleep` rather than `__nanosleep` */
	const Elf64_Sym *best = NULL;
	int best_score = 0;
	for (size_t i = 0; i < f->nsyms; i++) {
		const Elf64_Sym *s = &f->syms[i];
		int type = ELF64_ST_TYPE(s->st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF ||
		    s->st_name >= f->names_len || ip - bias - s->st_value >= s->st_size)
			continue;
		int score = (ELF64_ST_BIND(s->st_info) == STB_LOCAL) * 100 +
			    (int)strspn(f->names + s->st_name, "_");
		if (!best || score < best_score)
			best = s, best_score = score;
	}
	if (!best)
		return -UNW_ENOINFO;
	const char *name = f->names + best->st_name; /* without its version, "@GLIBC_2.2.5" */
	snprintf(buf, len, "%.*s", (int)strcspn(name, "@"), name);
	*off = ip - bias - best->st_value;
	return 0;
}

static unw_accessors_t accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	/* access_fpreg and resume stay NULL: we read no FP register and resume nothing */
	.get_proc_name = get_proc_name,
};

/* Why there is no unwind information for ip. */
static void no_info(struct unwind *u, uint64_t ip, char *why, size_t whylen)
{
	const struct zap_img_proc *p = u->img->proc;
	if (ip >= p->vdso_block_start && ip < p->vdso_block_end)
		snprintf(why, whylen, "0x%llx is in the vDSO, which images do not hold",
			 (unsigned long long)ip);
	else if (!find_region(u->img, ip))
		snprintf(why, whylen, "0x%llx is not mapped", (unsigned long long)ip);
	else
		snprintf(why, whylen, "no unwind information for 0x%llx%s%s",
			 (unsigned long long)ip, u->note[0] ? ": " : "", u->note);
}

static int unwind_frames(struct unwind *u, struct zap_frame *frames, int max, char *why,
			 size_t whylen)
{
	unw_addr_space_t as = unw_create_addr_space(&accessors, 0);
	if (!as) {
		snprintf(why, whylen, "libunwind: out of memory");
		return 0;
	}
	unw_cursor_t c;
	int n = 0, ret = unw_init_remote(&c, as, u);
	while (ret >= 0 && n < max) {
		struct zap_frame *f = &frames[n++];
		f->ip = f->offset = 0;
		unw_get_reg(&c, UNW_REG_IP, &f->ip);
		if (unw_get_proc_name(&c, f->function, sizeof(f->function), &f->offset) < 0)
			f->function[0] = 0;
		const struct zap_img_region *r = find_region(u->img, f->ip);
		f->file = r && r->path_str ? zap_img_str(u->img, r->path_str) : "";
		/* without unwind info libunwind would guess through the frame
		 * pointer, and wrong frames are worse than none; a return
		 * address (frames past the first) may be just past its call */
		unw_proc_info_t pi;
		if (find_proc_info(as, f->ip - (n > 1), &pi, 0, u) < 0) {
			no_info(u, f->ip, why, whylen);
			break;
		}
		ret = unw_step(&c);
		if (ret == 0)
			break;
	}
	if (ret < 0)
		snprintf(why, whylen, "cannot unwind further: %s", unw_strerror(ret));
	else if (ret > 0 && !why[0])
		snprintf(why, whylen, "more than %d frames", max);
	unw_destroy_addr_space(as);
	return n;
}

int zap_stack_unwind(const struct zap_img *img, const struct zap_img_thread *t,
		     struct zap_frame *frames, int max, char *why, size_t whylen)
{
	struct unwind *u = calloc(1, sizeof(*u));
	int n = 0;
	why[0] = 0;
	if (!u) {
		snprintf(why, whylen, "out of memory");
		return 0;
	}
	u->img = img;
	if (mem_read(u, t->ucontext + offsetof(ucontext_t, uc_mcontext.gregs), u->gregs,
		     sizeof(u->gregs)) < 0)
		snprintf(why, whylen, "no signal frame at 0x%llx", (unsigned long long)t->ucontext);
	else
		n = unwind_frames(u, frames, max, why, whylen);
	for (int i = 0; i < u->nfiles; i++) {
		if (u->files[i].fd >= 0)
			close(u->files[i].fd);
		free(u->files[i].syms);
		free(u->files[i].names);
	}
	free(u);
	return n;
}
