/* num.c: wrapping 64-bit arithmetic. */
#include "minicalc.h"

mc_val mc_pow(mc_val b, mc_val e)
{
	mc_val r = 1;
	while (e) {
		if (e & 1)
			r *= b;
		b *= b;
		e >>= 1;
	}
	return r;
}

mc_val mc_div(mc_val a, mc_val b, int *ok)
{
	if (!b) {
		*ok = 0;
		return 0;
	}
	return a / b;
}

mc_val mc_mod(mc_val a, mc_val b, int *ok)
{
	if (!b) {
		*ok = 0;
		return 0;
	}
	return a % b;
}

mc_val mc_rotl(mc_val x, unsigned r)
{
	r &= 63;
	return r ? (x << r) | (x >> (64 - r)) : x;
}

/* splitmix64's finalizer */
mc_val mc_mix(mc_val x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}
