/* podsysv [WORKERS [UNITS [KEY]]]: a pod that works through SysV IPC.
 *
 * The parent makes a shared memory segment (IPC_PRIVATE), a semaphore set
 * under KEY and a message queue (IPC_PRIVATE), and forks WORKERS workers
 * (3; 0: the parent does the work itself).  Each worker is told over a
 * pipe how many units to do; for each unit it takes the semaphore, adds
 * the unit's value to the checksum in the segment, counts it, lets go,
 * sends the value as a message of type worker+1, and sleeps 100 ms; at the
 * end it writes its own sum back over a pipe.  The parent collects every
 * message, then the pipes, and prints one line per worker and a total, the
 * same on every run: a restart anywhere in between must not lose, double
 * or reorder anything that shows. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXW 8

struct shared {
	uint64_t checksum;
	uint64_t count;
	uint64_t done[MAXW];
};

struct result {
	long type;
	uint32_t worker, unit;
	uint64_t value;
};
#define RESULT_LEN (sizeof(struct result) - sizeof(long))

static int shm_id, sem_id, msg_id;

static void die(const char *what)
{
	fprintf(stderr, "podsysv: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t unit_value(uint32_t w, uint32_t i)
{
	uint64_t x = (uint64_t)(w + 1) * 1000003u + i * 7919u;
	x ^= x >> 13;
	return x * 0x9e3779b97f4a7c15ull >> 40;
}

static void sem_change(int d)
{
	struct sembuf op = {0, (short)d, SEM_UNDO};
	while (semop(sem_id, &op, 1) < 0)
		if (errno != EINTR)
			die("semop");
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t do_units(uint32_t w, uint32_t units)
{
	struct shared *sh = shmat(shm_id, NULL, 0);
	if (sh == (void *)-1)
		die("shmat");
	uint64_t mine = 0;
	for (uint32_t i = 0; i < units; i++) {
		uint64_t v = unit_value(w, i);
		sem_change(-1);
		sh->checksum += v;
		sh->count++;
		sh->done[w]++;
		sem_change(1);
		mine += v;
		struct result r = {w + 1, w, i, v};
		while (msgsnd(msg_id, &r, RESULT_LEN, 0) < 0)
			if (errno != EINTR)
				die("msgsnd");
		sleep_ms(100);
	}
	shmdt(sh);
	return mine;
}

static ssize_t read_full(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int main(int argc, char **argv)
{
	uint32_t nw = argc > 1 ? (uint32_t)atoi(argv[1]) : 3;
	uint32_t units = argc > 2 ? (uint32_t)atoi(argv[2]) : 50;
	key_t key = argc > 3 ? (key_t)strtoul(argv[3], NULL, 0) : 0x5a5953;
	if (nw > MAXW)
		nw = MAXW;
	setvbuf(stdout, NULL, _IOLBF, 0);
	shm_id = shmget(IPC_PRIVATE, sizeof(struct shared), IPC_CREAT | 0600);
	sem_id = semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
	msg_id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (shm_id < 0 || sem_id < 0 || msg_id < 0)
		die("creating the objects");
	if (semctl(sem_id, 0, SETVAL, 1) < 0)
		die("semctl");
	int to_w[MAXW][2], from_w[MAXW][2];
	pid_t pids[MAXW];
	for (uint32_t w = 0; w < nw; w++) {
		if (pipe(to_w[w]) < 0 || pipe(from_w[w]) < 0)
			die("pipe");
		pids[w] = fork();
		if (pids[w] < 0)
			die("fork");
		if (pids[w] == 0) {
			uint32_t n;
			if (read_full(to_w[w][0], &n, sizeof(n)) < 0)
				die("reading the unit count");
			uint64_t mine = do_units(w, n);
			if (write(from_w[w][1], &mine, sizeof(mine)) != sizeof(mine))
				die("writing the result");
			_exit(0);
		}
		close(to_w[w][0]);
		close(from_w[w][1]);
		if (write(to_w[w][1], &units, sizeof(units)) != sizeof(units))
			die("telling a worker");
	}
	uint64_t got[MAXW] = {0}, sum[MAXW] = {0};
	uint32_t total = (nw ? nw : 1) * units;
	if (!nw)
		do_units(0, units);
	for (uint32_t k = 0; k < total; k++) {
		struct result r;
		while (msgrcv(msg_id, &r, RESULT_LEN, 0, 0) < 0)
			if (errno != EINTR)
				die("msgrcv");
		if (r.worker >= MAXW || r.unit != got[r.worker] || r.value != unit_value(r.worker, r.unit)) {
			printf("worker %u: unit %u out of order or wrong (expected %" PRIu64 ")\n", r.worker,
			       r.unit, got[r.worker < MAXW ? r.worker : 0]);
			return 1;
		}
		got[r.worker]++;
		sum[r.worker] += r.value;
	}
	struct shared *sh = shmat(shm_id, NULL, SHM_RDONLY);
	if (sh == (void *)-1)
		die("shmat");
	uint64_t all = 0;
	for (uint32_t w = 0; w < (nw ? nw : 1); w++) {
		uint64_t said = sum[w];
		if (nw && read_full(from_w[w][0], &said, sizeof(said)) < 0)
			die("reading a worker's sum");
		printf("worker %u: %" PRIu64 " units, sum %" PRIu64 "%s\n", w, got[w], sum[w],
		       said == sum[w] && sh->done[w] == got[w] ? "" : " MISMATCH");
		all += sum[w];
	}
	for (uint32_t w = 0; w < nw; w++)
		waitpid(pids[w], NULL, 0);
	printf("total: %" PRIu64 " units, checksum %" PRIu64 " (%s), semaphore %d\n", sh->count,
	       sh->checksum, sh->checksum == all ? "matches" : "MISMATCH", semctl(sem_id, 0, GETVAL));
	shmdt(sh);
	shmctl(shm_id, IPC_RMID, NULL);
	semctl(sem_id, 0, IPC_RMID);
	msgctl(msg_id, IPC_RMID, NULL);
	return 0;
}
