/* Puts its terminal in raw mode (no echo, no line editing), then reports
 * the terminal's mode at each step: after a restart on another terminal,
 * the mode must still be the one it set. */
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 30;
	struct termios t;
	if (tcgetattr(0, &t) != 0) {
		printf("stdin is not a terminal\n");
		return 1;
	}
	t.c_lflag &= ~(tcflag_t)(ECHO | ICANON);
	tcsetattr(0, TCSANOW, &t);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < steps; i++) {
		tcgetattr(0, &t);
		printf("step %d echo=%d icanon=%d\n", i, !!(t.c_lflag & ECHO), !!(t.c_lflag & ICANON));
		struct timespec ts = {0, 60 * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return 0;
}
