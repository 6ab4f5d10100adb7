/* A UNIX stream socketpair the program keeps to itself: each step sends
 * three bytes each way and receives two, so bytes wait in both ends; a
 * restart must bring them back in order. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 40;
	setvbuf(stdout, NULL, _IOLBF, 0);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	for (int s = 0; s < steps; s++) {
		char w[16], r0[3] = {0}, r1[3] = {0};
		snprintf(w, sizeof(w), "%c%02d", 'a' + s % 26, s % 100);
		send(sv[0], w, 3, 0);
		send(sv[1], w, 3, 0);
		recv(sv[0], r0, 2, 0);
		recv(sv[1], r1, 2, 0);
		printf("step %d got '%s' '%s'\n", s, r0, r1);
		struct timespec ts = {0, 60 * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return 0;
}
