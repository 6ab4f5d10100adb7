/* A pod's SysV IPC objects in its image (sysv.img; format in
 * include/zap/image.h, docs/image-format.md).
 *
 * Which objects are the pod's: those its members made or opened through
 * shmget/semget/msgget (preload/ipc.c lists them in pod_dir/ipc, one line
 * "shm|sem|msg ID KEY PKEY" each time), plus the segments a member has
 * attached without one (found in /proc/<member>/maps).  The list may name
 * an object twice, or one that is gone, or an id the kernel has since
 * given to another object: the last line for an id wins, and an object
 * whose key is not the listed one any more is not the pod's.
 *
 * Save runs in the checkpoint coordinator while every member is stopped,
 * with the coordinator's own rights: shm contents are read through a
 * read-only attach, semaphore values with GETALL, messages with
 * msgrcv(MSG_COPY) by index, which leaves the queue as it was.
 *
 * Restore runs in `zap restart` before any restorer: each object is made
 * again under its key (hashed with the restarted pod's name), filled, given
 * its owner and mode, and its old id -> new id goes into the pod's table,
 * where the restorers (attached segments) and the preload (every id the
 * program passes) find it.  Each kind has its ops below; one table. */
#include "sysv.h"
#include "image.h"
#include "sys.h"
#include "util.h"
#include "vtab.h"
#include "zap/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

/* One object being saved. */
struct sysv_obj {
	struct zap_img_sysv rec;
	int32_t real;
};

struct sysv_set {
	struct sysv_obj *v;
	uint32_t n, cap;
};

struct sysv_ops {
	const char *name;
	/* Fills mode, uid, gid, size, qbytes and flags; key gets the kernel's
	 * key.  0, or -1 with errno (EINVAL/EIDRM: gone). */
	int (*stat)(int32_t id, struct zap_img_sysv *o, int32_t *key);
	/* The object's bytes (rec.size of them as the kind counts) into a new
	 * malloc'd buffer in *data, its length in *len; 0 or -1 with err. */
	int (*read)(int32_t id, const struct zap_img_sysv *o, void **data, uint64_t *len, char *err,
		    size_t errlen);
	int (*get)(int32_t key, const struct zap_img_sysv *o, int flags);
	int (*fill)(int32_t id, const struct zap_img_sysv *o, const unsigned char *data, char *err,
		    size_t errlen);
	/* IPC_SET: owner and mode (and a queue's byte limit) */
	int (*set)(int32_t id, const struct zap_img_sysv *o, int owner);
	int (*rmid)(int32_t id);
	/* shm: processes attached now; 0 for the others */
	long (*users)(int32_t id);
};

static int sysv_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sysv_err(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- shared memory ---- */

static int shm_stat(int32_t id, struct zap_img_sysv *o, int32_t *key)
{
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return -1;
	o->mode = ds.shm_perm.mode & 0777;
	o->uid = ds.shm_perm.uid;
	o->gid = ds.shm_perm.gid;
	o->size = ds.shm_segsz;
	if (ds.shm_perm.mode & SHM_DEST)
		o->flags |= ZAP_SYSV_DEST;
	*key = ds.shm_perm.__key;
	return 0;
}

static int shm_read(int32_t id, const struct zap_img_sysv *o, void **data, uint64_t *len, char *err,
		    size_t errlen)
{
	void *p = shmat(id, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return sysv_err(err, errlen, "cannot read SysV segment %d (key 0x%x): %s", (int)id,
				(unsigned)o->key, strerror(errno));
	*data = malloc(o->size ? o->size : 1);
	if (*data)
		memcpy(*data, p, o->size);
	shmdt(p);
	*len = o->size;
	return *data ? 0 : sysv_err(err, errlen, "out of memory for SysV segment %d", (int)id);
}

static int shm_get(int32_t key, const struct zap_img_sysv *o, int flags)
{
	return shmget(key, o ? o->size : 0, flags);
}

static int shm_fill(int32_t id, const struct zap_img_sysv *o, const unsigned char *data, char *err,
		    size_t errlen)
{
	void *p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		return sysv_err(err, errlen, "cannot attach the new SysV segment %d: %s", (int)id,
				strerror(errno));
	memcpy(p, data, o->size);
	shmdt(p);
	return 0;
}

static int shm_set(int32_t id, const struct zap_img_sysv *o, int owner)
{
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return -1;
	ds.shm_perm.mode = o->mode;
	if (owner)
		ds.shm_perm.uid = o->uid, ds.shm_perm.gid = o->gid;
	return shmctl(id, IPC_SET, &ds);
}

static int shm_rmid(int32_t id) { return shmctl(id, IPC_RMID, NULL); }

static long shm_users(int32_t id)
{
	struct shmid_ds ds;
	return shmctl(id, IPC_STAT, &ds) < 0 ? 0 : (long)ds.shm_nattch;
}

static const struct sysv_ops shm_ops = {
	.name = "shm",
	.stat = shm_stat,
	.read = shm_read,
	.get = shm_get,
	.fill = shm_fill,
	.set = shm_set,
	.rmid = shm_rmid,
	.users = shm_users,
};

/* ---- semaphores ---- */

union sysv_semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static int sem_stat(int32_t id, struct zap_img_sysv *o, int32_t *key)
{
	struct semid_ds ds;
	if (semctl(id, 0, IPC_STAT, (union sysv_semun){.buf = &ds}) < 0)
		return -1;
	o->mode = ds.sem_perm.mode & 0777;
	o->uid = ds.sem_perm.uid;
	o->gid = ds.sem_perm.gid;
	o->size = ds.sem_nsems;
	if (ds.sem_otime)
		o->flags |= ZAP_SYSV_SEMOP;
	*key = ds.sem_perm.__key;
	return 0;
}

static int sem_read(int32_t id, const struct zap_img_sysv *o, void **data, uint64_t *len, char *err,
		    size_t errlen)
{
	unsigned short *v = calloc(o->size, sizeof(*v));
	if (!v)
		return sysv_err(err, errlen, "out of memory for SysV semaphores %d", (int)id);
	if (semctl(id, 0, GETALL, (union sysv_semun){.array = v}) < 0) {
		free(v);
		return sysv_err(err, errlen, "cannot read SysV semaphores %d (key 0x%x): %s", (int)id,
				(unsigned)o->key, strerror(errno));
	}
	*data = v;
	*len = o->size * sizeof(*v);
	return 0;
}

static int sem_get(int32_t key, const struct zap_img_sysv *o, int flags)
{
	return semget(key, o ? (int)o->size : 0, flags);
}

static int sem_fill(int32_t id, const struct zap_img_sysv *o, const unsigned char *data, char *err,
		    size_t errlen)
{
	unsigned short *v = calloc(o->size, sizeof(*v));
	if (!v)
		return sysv_err(err, errlen, "out of memory");
	memcpy(v, data, o->size * sizeof(*v));
	int e = semctl(id, 0, SETALL, (union sysv_semun){.array = v});
	if (e == 0 && (o->flags & ZAP_SYSV_SEMOP)) {
		/* a program may wait for sem_otime to turn non-zero (the set is
		 * ready): one semop that changes nothing sets it */
		short d = v[0] ? -1 : 1;
		struct sembuf ops[2] = {{0, d, IPC_NOWAIT}, {0, (short)-d, IPC_NOWAIT}};
		semop(id, ops, 2);
	}
	free(v);
	if (e < 0)
		return sysv_err(err, errlen, "cannot set the values of SysV semaphores %d: %s", (int)id,
				strerror(errno));
	return 0;
}

static int sem_set(int32_t id, const struct zap_img_sysv *o, int owner)
{
	struct semid_ds ds;
	if (semctl(id, 0, IPC_STAT, (union sysv_semun){.buf = &ds}) < 0)
		return -1;
	ds.sem_perm.mode = o->mode;
	if (owner)
		ds.sem_perm.uid = o->uid, ds.sem_perm.gid = o->gid;
	return semctl(id, 0, IPC_SET, (union sysv_semun){.buf = &ds});
}

static int sem_rmid(int32_t id) { return semctl(id, 0, IPC_RMID); }

static long no_users(int32_t id)
{
	(void)id;
	return 0;
}

static const struct sysv_ops sem_ops = {
	.name = "sem",
	.stat = sem_stat,
	.read = sem_read,
	.get = sem_get,
	.fill = sem_fill,
	.set = sem_set,
	.rmid = sem_rmid,
	.users = no_users,
};

/* ---- message queues ---- */

/* A message in SYSV_DATA: this header, the bytes, padding to 8. */
struct sysv_msg_hdr {
	int64_t type;
	uint64_t len;
};

static int msg_stat(int32_t id, struct zap_img_sysv *o, int32_t *key)
{
	struct msqid_ds ds;
	if (msgctl(id, IPC_STAT, &ds) < 0)
		return -1;
	o->mode = ds.msg_perm.mode & 0777;
	o->uid = ds.msg_perm.uid;
	o->gid = ds.msg_perm.gid;
	o->size = ds.msg_qnum;
	o->qbytes = ds.msg_qbytes;
	*key = ds.msg_perm.__key;
	return 0;
}

static long msg_max(void)
{
	char buf[32];
	long v = 0;
	FILE *f = fopen("/proc/sys/kernel/msgmax", "re");
	if (f && fgets(buf, sizeof(buf), f))
		v = atol(buf);
	if (f)
		fclose(f);
	return v > 0 ? v : 8192;
}

static int msg_read(int32_t id, const struct zap_img_sysv *o, void **data, uint64_t *len, char *err,
		    size_t errlen)
{
	/* one message is at most msgmax bytes, or qbytes when that is more */
	size_t cap = (size_t)msg_max();
	if (o->qbytes > cap)
		cap = o->qbytes;
	/* the headers and padding, and the bytes, which qbytes bounds */
	size_t out_cap = o->size * (sizeof(struct sysv_msg_hdr) + 8) + o->qbytes + cap;
	struct {
		long type;
		char text[];
	} *m = malloc(sizeof(long) + cap);
	unsigned char *out = malloc(out_cap);
	size_t at = 0;
	int rc = 0;
	for (uint64_t i = 0; m && out && i < o->size; i++) {
		ssize_t n = msgrcv(id, m, cap, (long)i, IPC_NOWAIT | MSG_COPY);
		if (n < 0) {
			rc = sysv_err(err, errlen, "cannot copy message %lu of SysV queue %d (key 0x%x): %s%s",
				      (unsigned long)i, (int)id, (unsigned)o->key, strerror(errno),
				      errno == ENOSYS ? " (this kernel has no MSG_COPY: CONFIG_CHECKPOINT_RESTORE)" : "");
			break;
		}
		size_t need = sizeof(struct sysv_msg_hdr) + (((size_t)n + 7) & ~(size_t)7);
		if (at + need > out_cap) {
			rc = sysv_err(err, errlen, "SysV queue %d changed while it was saved", (int)id);
			break;
		}
		struct sysv_msg_hdr h = {m->type, (uint64_t)n};
		memcpy(out + at, &h, sizeof(h));
		memcpy(out + at + sizeof(h), m->text, (size_t)n);
		memset(out + at + sizeof(h) + n, 0, need - sizeof(h) - (size_t)n);
		at += need;
	}
	if ((!m || !out) && rc == 0)
		rc = sysv_err(err, errlen, "out of memory for SysV queue %d", (int)id);
	free(m);
	if (rc < 0) {
		free(out);
		return rc;
	}
	*data = out;
	*len = at;
	return 0;
}

static int msg_get(int32_t key, const struct zap_img_sysv *o, int flags)
{
	(void)o;
	return msgget(key, flags);
}

static int msg_fill(int32_t id, const struct zap_img_sysv *o, const unsigned char *data, char *err,
		    size_t errlen)
{
	/* the limit first, so that the messages fit */
	struct msqid_ds ds;
	if (msgctl(id, IPC_STAT, &ds) == 0 && o->qbytes > ds.msg_qbytes) {
		ds.msg_qbytes = o->qbytes;
		msgctl(id, IPC_SET, &ds); /* above msgmnb needs CAP_SYS_RESOURCE: msgsnd says */
	}
	uint64_t at = 0;
	void *buf = NULL;
	int rc = 0;
	for (uint64_t i = 0; i < o->size && rc == 0; i++) {
		struct sysv_msg_hdr h;
		if (o->data_len - at < sizeof(h)) {
			rc = sysv_err(err, errlen, "SysV queue %d: message %lu is cut short", (int)o->vid,
				      (unsigned long)i);
			break;
		}
		memcpy(&h, data + at, sizeof(h));
		at += sizeof(h);
		if (h.type <= 0 || h.len > o->data_len - at) {
			rc = sysv_err(err, errlen, "SysV queue %d: message %lu is malformed", (int)o->vid,
				      (unsigned long)i);
			break;
		}
		free(buf);
		buf = malloc(sizeof(long) + h.len);
		if (!buf) {
			rc = sysv_err(err, errlen, "out of memory");
			break;
		}
		long type = (long)h.type;
		memcpy(buf, &type, sizeof(type));
		memcpy((char *)buf + sizeof(type), data + at, h.len);
		if (msgsnd(id, buf, h.len, IPC_NOWAIT) < 0)
			rc = sysv_err(err, errlen, "cannot put message %lu back in SysV queue %d: %s",
				      (unsigned long)i, (int)o->vid, strerror(errno));
		at += (h.len + 7) & ~7ull;
		if (at > o->data_len)
			at = o->data_len;
	}
	free(buf);
	return rc;
}

static int msg_set(int32_t id, const struct zap_img_sysv *o, int owner)
{
	struct msqid_ds ds;
	if (msgctl(id, IPC_STAT, &ds) < 0)
		return -1;
	ds.msg_perm.mode = o->mode;
	if (owner)
		ds.msg_perm.uid = o->uid, ds.msg_perm.gid = o->gid;
	return msgctl(id, IPC_SET, &ds);
}

static int msg_rmid(int32_t id) { return msgctl(id, IPC_RMID, NULL); }

static const struct sysv_ops msg_ops = {
	.name = "msg",
	.stat = msg_stat,
	.read = msg_read,
	.get = msg_get,
	.fill = msg_fill,
	.set = msg_set,
	.rmid = msg_rmid,
	.users = no_users,
};

static const struct sysv_ops *const sysv_kinds[] = {
	[ZAP_IPC_SHM] = &shm_ops,
	[ZAP_IPC_SEM] = &sem_ops,
	[ZAP_IPC_MSG] = &msg_ops,
};

static const struct sysv_ops *sysv_ops_of(uint32_t kind)
{
	return kind < sizeof(sysv_kinds) / sizeof(sysv_kinds[0]) ? sysv_kinds[kind] : NULL;
}

static int sysv_kind_of(const char *name)
{
	for (uint32_t k = 1; k < sizeof(sysv_kinds) / sizeof(sysv_kinds[0]); k++)
		if (!strcmp(sysv_kinds[k]->name, name))
			return (int)k;
	return 0;
}

/* ---- the pod's objects ---- */

static struct sysv_obj *sysv_find(struct sysv_set *s, uint32_t kind, int32_t real)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (s->v[i].rec.kind == kind && s->v[i].real == real)
			return &s->v[i];
	return NULL;
}

static struct sysv_obj *sysv_add(struct sysv_set *s, uint32_t kind, int32_t real)
{
	struct sysv_obj *o = sysv_find(s, kind, real);
	if (o)
		return o;
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 16;
		struct sysv_obj *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	o = &s->v[s->n++];
	memset(o, 0, sizeof(*o));
	o->rec.kind = kind;
	o->real = real;
	return o;
}

/* Every object pod_dir/ipc names, the last line for an id winning. */
static int sysv_read_list(const char *pod_dir, struct sysv_set *s)
{
	char path[4096], line[256];
	snprintf(path, sizeof(path), "%s/%s", pod_dir, ZAP_POD_IPC);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), f)) {
		char kind[8];
		int id;
		unsigned key, pkey;
		int k;
		if (sscanf(line, "%7s %d %x %x", kind, &id, &key, &pkey) != 4 ||
		    !(k = sysv_kind_of(kind)) || id < 0)
			continue;
		struct sysv_obj *o = sysv_add(s, (uint32_t)k, id);
		if (!o) {
			fclose(f);
			return -1;
		}
		o->rec.key = (int32_t)key;
		o->rec.pkey = (int32_t)pkey;
		o->rec.flags = ZAP_SYSV_PKEY;
	}
	fclose(f);
	return 0;
}

/* Segments the members have attached that the list does not name. */
static int sysv_read_maps(const char *pod_dir, struct sysv_set *s)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/%s", pod_dir, ZAP_POD_MEMBERS);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) && rc == 0) {
		int pid = atoi(e->d_name);
		if (pid <= 0)
			continue;
		char path[64], line[4352];
		snprintf(path, sizeof(path), "/proc/%d/maps", pid);
		FILE *f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f)) {
			char perms[8];
			unsigned long ino;
			int at = 0;
			if (!strstr(line, " /SYSV") ||
			    sscanf(line, "%*x-%*x %7s %*x %*x:%*x %lu %n", perms, &ino, &at) != 2 ||
			    perms[3] != 's')
				continue;
			struct sysv_obj *o = sysv_find(s, ZAP_IPC_SHM, (int32_t)ino);
			if (!o && !(o = sysv_add(s, ZAP_IPC_SHM, (int32_t)ino)))
				rc = -1;
			else if (!(o->rec.flags & ZAP_SYSV_PKEY))
				o->rec.flags |= ZAP_SYSV_OUTSIDE;
		}
		if (f)
			fclose(f);
	}
	closedir(d);
	return rc;
}

/* ---- save ---- */

/* Looks each object up (dropping those gone or no longer the pod's) and
 * writes its bytes from *cursor on; keeps the ones saved in s. */
static int sysv_save_objects(struct sysv_set *s, const struct zap_vtab *vt, int fd, uint64_t *cursor,
			     const char *path, char *err, size_t errlen)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		struct sysv_obj o = s->v[i];
		const struct sysv_ops *ops = sysv_ops_of(o.rec.kind);
		int32_t key;
		if (ops->stat(o.real, &o.rec, &key) < 0) {
			if (errno == EINVAL || errno == EIDRM)
				continue; /* removed since it was listed */
			return sysv_err(err, errlen, "cannot look at SysV %s %d: %s", ops->name, (int)o.real,
					strerror(errno));
		}
		if (o.rec.flags & ZAP_SYSV_DEST)
			key = 0; /* the kernel dropped its key at IPC_RMID */
		else if ((o.rec.flags & ZAP_SYSV_PKEY) && key != o.rec.key)
			continue; /* the id went to another object */
		o.rec.key = key;
		int32_t v = vt ? zap_vtab_ipc_vid(vt, (int)o.rec.kind, o.real) : -1;
		o.rec.vid = v < 0 ? o.real : v;
		void *data = NULL;
		uint64_t len = 0;
		if (ops->read(o.real, &o.rec, &data, &len, err, errlen) < 0)
			return -1;
		if (o.rec.kind == ZAP_IPC_SHM)
			*cursor = ZAP_PAGE_UP(*cursor);
		o.rec.data_off = *cursor;
		o.rec.data_len = len;
		o.rec.data_sum = zap_sum_pages(data, len, o.rec.kind);
		long e = len ? z_pwrite_all(fd, data, len, *cursor) : 0;
		free(data);
		if (e < 0)
			return sysv_err(err, errlen, "%s: cannot write: %s", path, strerror((int)-e));
		*cursor += (len + 7) & ~7ull;
		s->v[kept++] = o;
	}
	s->n = kept;
	if (kept > ZAP_VTAB_IPCS)
		return sysv_err(err, errlen, "the pod has %u SysV objects, more than zap keeps (%u)", kept,
				ZAP_VTAB_IPCS);
	return 0;
}

int zap_sysv_save(const char *pod_dir, const char *img_dir, char *err, size_t errlen)
{
	char path[4096], vpath[4096];
	struct sysv_set s = {0};
	snprintf(path, sizeof(path), "%s/%s", img_dir, ZAP_SYSV_IMG);
	if (sysv_read_list(pod_dir, &s) < 0 || sysv_read_maps(pod_dir, &s) < 0) {
		free(s.v);
		return sysv_err(err, errlen, "%s: cannot read the pod's SysV objects: %s", pod_dir,
				strerror(errno));
	}
	if (!s.n) {
		unlink(path); /* an image directory reused from a spare */
		return 0;
	}
	long verr;
	snprintf(vpath, sizeof(vpath), "%s/%s", pod_dir, ZAP_VTAB_FILE);
	struct zap_vtab *vt = zap_vtab_map(vpath, 0, &verr);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = -1;
	if (fd < 0) {
		sysv_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	struct zap_imgw w;
	zap_imgw_begin(&w, fd, ZAP_IMG_KIND_SYSV);
	uint64_t cursor = ZAP_IMG_PAGE;
	if (sysv_save_objects(&s, vt, fd, &cursor, path, err, errlen) < 0)
		goto out;
	if (!s.n) { /* everything listed was gone */
		unlink(path);
		rc = 0;
		goto out;
	}
	struct zap_img_sysv *recs = calloc(s.n, sizeof(*recs));
	if (!recs) {
		sysv_err(err, errlen, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < s.n; i++)
		recs[i] = s.v[i].rec;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	long e = zap_imgw_declare(&w, ZAP_SECT_SYSV_DATA, ZAP_IMG_PAGE, cursor - ZAP_IMG_PAGE);
	if (e == 0)
		e = zap_imgw_section(&w, ZAP_SECT_SYSV, s.n, recs, s.n * sizeof(*recs));
	if (e == 0)
		e = zap_imgw_finish(&w, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	free(recs);
	if (e < 0)
		sysv_err(err, errlen, "%s: cannot write: %s", path, strerror((int)-e));
	else
		rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && fd >= 0)
		unlink(path);
	zap_vtab_unmap(vt);
	free(s.v);
	return rc;
}

/* ---- restore ---- */

static void *sysv_alloc(void *ctx, size_t n)
{
	(void)ctx;
	return malloc(n);
}

static void sysv_img_free(struct zap_img *img)
{
	for (int i = 0; i < ZAP_SECT_MAX; i++)
		free(img->data[i]);
	zap_img_close(img);
}

/* The key an object comes back under. */
static int32_t sysv_key_now(const struct zap_img_sysv *o, const char *pod)
{
	if (o->flags & (ZAP_SYSV_DEST | ZAP_SYSV_OUTSIDE))
		return IPC_PRIVATE;
	if ((o->flags & ZAP_SYSV_PKEY) && pod)
		return zap_ipc_pod_key(pod, o->pkey);
	return o->key;
}

/* An object left under one of the pod's keys is the pod's from an earlier
 * life (only this pod's name hashes to it, and a running pod is not
 * restarted): it goes, unless a process still has it attached. */
static int sysv_take_key(const struct sysv_ops *ops, int32_t key, char *err, size_t errlen)
{
	int id = ops->get(key, NULL, 0);
	if (id < 0)
		return 0; /* gone meanwhile */
	long users = ops->users(id);
	if (users > 0)
		return sysv_err(err, errlen,
				"SysV %s key 0x%x exists on this host (id %d) and %ld process%s it attached: "
				"is the pod still running?",
				ops->name, (unsigned)key, id, users, users == 1 ? " has" : "es have");
	if (ops->rmid(id) < 0)
		return sysv_err(err, errlen, "SysV %s key 0x%x exists on this host (id %d) and cannot be removed: %s",
				ops->name, (unsigned)key, id, strerror(errno));
	return 0;
}

static int sysv_create(const struct zap_img_sysv *o, int32_t key, char *err, size_t errlen)
{
	const struct sysv_ops *ops = sysv_ops_of(o->kind);
	int flags = IPC_CREAT | IPC_EXCL | 0600;
	int id = ops->get(key, o, flags);
	if (id < 0 && errno == EEXIST && key != IPC_PRIVATE) {
		if (sysv_take_key(ops, key, err, errlen) < 0)
			return -1;
		id = ops->get(key, o, flags);
	}
	if (id < 0)
		return sysv_err(err, errlen, "cannot create SysV %s (id %d, key 0x%x): %s", ops->name,
				(int)o->vid, (unsigned)key, strerror(errno));
	return id;
}

/* One object: made, filled, given its owner and mode. */
static int sysv_restore_one(const struct zap_img *img, const struct zap_img_sysv *o, int32_t key,
			    char *err, size_t errlen)
{
	const struct sysv_ops *ops = sysv_ops_of(o->kind);
	unsigned char *data = malloc(o->data_len ? o->data_len : 1);
	if (!data)
		return sysv_err(err, errlen, "out of memory for SysV %s %d", ops->name, (int)o->vid);
	if (o->data_len && z_pread_all(img->fd, data, o->data_len, o->data_off) < 0) {
		free(data);
		return sysv_err(err, errlen, "%s: section SYSV_DATA: read error", img->path);
	}
	if (zap_sum_pages(data, o->data_len, o->kind) != o->data_sum) {
		free(data);
		return sysv_err(err, errlen, "%s: section SYSV_DATA: checksum mismatch in SysV %s %d",
				img->path, ops->name, (int)o->vid);
	}
	int id = sysv_create(o, key, err, errlen);
	if (id >= 0 && ops->fill(id, o, data, err, errlen) < 0) {
		ops->rmid(id);
		id = -1;
	}
	free(data);
	/* the owner needs the right to give it away; the mode is ours to set */
	if (id >= 0 && ops->set(id, o, 1) < 0 && ops->set(id, o, 0) < 0) {
		sysv_err(err, errlen, "cannot set the mode of SysV %s %d: %s", ops->name, (int)o->vid,
			 strerror(errno));
		ops->rmid(id);
		id = -1;
	}
	return id;
}

static void sysv_remove_made(const struct zap_img *img, const int32_t *made, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		sysv_ops_of(img->sysv[i].kind)->rmid(made[i]);
}

int zap_sysv_restore(const char *img_dir, const char *pod_dir, struct zap_vtab *vt, char *err,
		     size_t errlen)
{
	char path[4096], list[4096];
	snprintf(path, sizeof(path), "%s/%s", img_dir, ZAP_SYSV_IMG);
	struct stat st;
	if (stat(path, &st) < 0 && errno == ENOENT)
		return 0;
	struct zap_img img;
	if (zap_img_open(&img, path, sysv_alloc, NULL, err, errlen) < 0) {
		sysv_img_free(&img);
		return -1;
	}
	if (img.hdr.kind != ZAP_IMG_KIND_SYSV) {
		sysv_img_free(&img);
		return sysv_err(err, errlen, "%s: not a SysV objects file (kind %u)", path, img.hdr.kind);
	}
	const char *pod = pod_dir ? strrchr(pod_dir, '/') : NULL;
	pod = pod ? pod + 1 : pod_dir;
	int32_t *made = calloc(img.nsysv ? img.nsysv : 1, sizeof(*made));
	int32_t *keys = calloc(img.nsysv ? img.nsysv : 1, sizeof(*keys));
	uint32_t n = 0;
	int rc = made && keys ? 0 : sysv_err(err, errlen, "out of memory");
	for (uint32_t i = 0; rc == 0 && i < img.nsysv; i++) {
		const struct zap_img_sysv *o = &img.sysv[i];
		keys[i] = sysv_key_now(o, pod);
		made[i] = sysv_restore_one(&img, o, keys[i], err, errlen);
		if (made[i] < 0)
			rc = -1;
		else if ((n = i + 1), vt && zap_vtab_ipc_set(vt, (int)o->kind, o->vid, made[i]) < 0)
			rc = sysv_err(err, errlen, "the pod's id table is full (%u SysV objects)", ZAP_VTAB_IPCS);
	}
	FILE *f = NULL;
	if (rc == 0 && pod_dir) { /* the pod's list from now on: these, by their new ids */
		snprintf(list, sizeof(list), "%s/%s", pod_dir, ZAP_POD_IPC);
		f = fopen(list, "we");
		for (uint32_t i = 0; f && i < img.nsysv; i++)
			fprintf(f, "%s %d 0x%x 0x%x\n", sysv_ops_of(img.sysv[i].kind)->name, (int)made[i],
				(unsigned)keys[i], (unsigned)img.sysv[i].pkey);
		if (!f || fclose(f) != 0)
			rc = sysv_err(err, errlen, "cannot write %s: %s", list, strerror(errno));
	}
	if (rc < 0 && made)
		sysv_remove_made(&img, made, n);
	free(made);
	free(keys);
	sysv_img_free(&img);
	return rc;
}

/* ---- removal ---- */

int zap_sysv_remove(const char *pod_dir, char *err, size_t errlen)
{
	struct sysv_set s = {0};
	if (sysv_read_list(pod_dir, &s) < 0) {
		free(s.v);
		return sysv_err(err, errlen, "%s: cannot read the pod's SysV objects: %s", pod_dir,
				strerror(errno));
	}
	int removed = 0;
	for (uint32_t i = 0; i < s.n; i++) {
		struct sysv_obj *o = &s.v[i];
		const struct sysv_ops *ops = sysv_ops_of(o->rec.kind);
		struct zap_img_sysv now = {0};
		int32_t key;
		if (ops->stat(o->real, &now, &key) < 0 ||
		    (!(now.flags & ZAP_SYSV_DEST) && key != o->rec.key))
			continue; /* gone, or the id went to another object */
		if (ops->rmid(o->real) == 0)
			removed++;
	}
	free(s.v);
	return removed;
}
