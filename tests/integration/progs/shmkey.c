/* shmkey KEY WORD: creates the SysV shared memory segment KEY exclusively,
 * writes WORD into it, waits, reads it back and prints it, removes it.
 * Two copies with the same KEY at once: the second fails with EEXIST,
 * unless each runs in its own zap pod. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return fprintf(stderr, "usage: shmkey KEY WORD\n"), 2;
	key_t key = (key_t)strtol(argv[1], NULL, 0);
	int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0) {
		printf("shmget: %s\n", strerror(errno));
		return 1;
	}
	char *p = shmat(id, NULL, 0);
	snprintf(p, 4096, "%s", argv[2]);
	sleep(2);
	printf("read back: %s\n", p);
	shmdt(p);
	shmctl(id, IPC_RMID, NULL);
	return 0;
}
