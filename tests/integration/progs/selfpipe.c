/* Two pipes the program keeps to itself, one with its write end at a
 * lower fd than its read end.  Each step writes three bytes into each and
 * reads two back, so bytes pile up in the pipes; a restart must bring the
 * waiting bytes back, in order. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 40;
	setvbuf(stdout, NULL, _IOLBF, 0);
	int a[2], b[2];
	if (pipe(a) < 0 || pipe(b) < 0)
		return 1;
	/* b: write end 20, read end 21 */
	dup2(b[1], 20);
	dup2(b[0], 21);
	close(b[0]);
	close(b[1]);
	fcntl(a[0], F_SETFL, O_NONBLOCK);
	for (int s = 0; s < steps; s++) {
		char w[16], ra[3] = {0}, rb[3] = {0};
		snprintf(w, sizeof(w), "%c%02d", 'a' + s % 26, s % 100);
		write(a[1], w, 3);
		write(20, w, 3);
		read(a[0], ra, 2);
		read(21, rb, 2);
		printf("step %d read a '%s' b '%s'\n", s, ra, rb);
		struct timespec ts = {0, 60 * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return 0;
}
