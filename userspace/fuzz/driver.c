// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for libFuzzer when clang's fuzzer runtime is not installed:
 * runs every file of the corpus directories, then mutates corpus entries
 * at random (bit flips, byte sets, truncation, insertion, splicing of
 * lengths) for -max_total_time seconds.  No coverage feedback: a weaker
 * fuzzer, but the same target under the same sanitizers.
 *
 * Usage: FUZZER [-max_total_time=S] [-seed=N] DIR...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DRV_MAX_INPUT	4096
#define DRV_MAX_CORPUS	1024

static uint8_t *corpus[DRV_MAX_CORPUS];
static size_t corpus_len[DRV_MAX_CORPUS];
static size_t ncorpus;

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void load_dir(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)) && ncorpus < DRV_MAX_CORPUS) {
		char path[4096];
		uint8_t *b;
		size_t n;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		b = malloc(DRV_MAX_INPUT);
		n = b ? fread(b, 1, DRV_MAX_INPUT, f) : 0;
		fclose(f);
		if (!b)
			continue;
		corpus[ncorpus] = b;
		corpus_len[ncorpus++] = n;
	}
	closedir(d);
}

static size_t mutate(uint8_t *b, size_t n)
{
	int rounds = 1 + (int)(rnd() % 8);

	for (int r = 0; r < rounds; r++) {
		size_t pos = n ? rnd() % n : 0;

		switch (rnd() % 7) {
		case 0:		/* flip a bit */
			if (n)
				b[pos] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1:		/* set a byte to an interesting value */
		{
			static const uint8_t v[] = { 0, 1, 3, 4, 0x7f, 0x80,
						     0xff, 0xfe, 16, 32, 64 };
			if (n)
				b[pos] = v[rnd() % sizeof(v)];
			break;
		}
		case 2:		/* truncate */
			n = pos;
			break;
		case 3:		/* insert random bytes */
		{
			size_t k = 1 + rnd() % 8;

			if (n + k > DRV_MAX_INPUT)
				break;
			memmove(b + pos + k, b + pos, n - pos);
			for (size_t i = 0; i < k; i++)
				b[pos + i] = (uint8_t)rnd();
			n += k;
			break;
		}
		case 4:		/* a 16-bit length field off by a little */
			if (n >= 2 && pos + 2 <= n) {
				uint16_t l;

				memcpy(&l, b + pos, 2);
				l = (uint16_t)(l + (int)(rnd() % 9) - 4);
				memcpy(b + pos, &l, 2);
			}
			break;
		case 5:		/* append part of another corpus entry */
		{
			size_t o = rnd() % ncorpus, k = corpus_len[o];

			if (n + k <= DRV_MAX_INPUT) {
				memcpy(b + n, corpus[o], k);
				n += k;
			}
			break;
		}
		default:	/* random byte */
			if (n)
				b[pos] = (uint8_t)rnd();
			break;
		}
	}
	return n;
}

int main(int argc, char *argv[])
{
	unsigned long max_time = 10, runs = 0;
	uint8_t *b = malloc(DRV_MAX_INPUT);
	time_t start = time(NULL);

	rng_state = (uint64_t)start * 2654435761u | 1;
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "-max_total_time=", 16))
			max_time = strtoul(argv[i] + 16, NULL, 10);
		else if (!strncmp(argv[i], "-seed=", 6))
			rng_state = strtoull(argv[i] + 6, NULL, 10) | 1;
		else if (argv[i][0] != '-')
			load_dir(argv[i]);
	}
	if (!b || !ncorpus) {
		fprintf(stderr, "driver: no corpus\n");
		return 1;
	}
	for (size_t i = 0; i < ncorpus; i++, runs++)
		LLVMFuzzerTestOneInput(corpus[i], corpus_len[i]);
	while ((unsigned long)(time(NULL) - start) < max_time) {
		for (int i = 0; i < 1000; i++, runs++) {
			size_t o = rnd() % ncorpus, n = corpus_len[o];

			memcpy(b, corpus[o], n);
			n = mutate(b, n);
			LLVMFuzzerTestOneInput(b, n);
		}
	}
	printf("driver: %lu runs over %zu corpus entries in %lu s, no crash\n",
	       runs, ncorpus, (unsigned long)(time(NULL) - start));
	free(b);
	for (size_t i = 0; i < ncorpus; i++)
		free(corpus[i]);
	return 0;
}
