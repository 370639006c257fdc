/* What both C programs of the scheduler benchmark measure with, so that they
 * measure the same way: the deadline generator (same seed: the very same
 * deadlines), process CPU time, /proc/self/status memory figures, and a
 * monotonic clock. Header-only: each program is one file. */
#ifndef TESSERA_BENCH_SCHED_MEASURE_H
#define TESSERA_BENCH_SCHED_MEASURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bench: check failed: %s\n", what);
        exit(1);
    }
}

static uint64_t rng_state = 0x5eed5eed5eed5eedull;

static inline uint64_t splitmix64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1] second, in nanoseconds. */
static inline uint64_t random_deadline_ns(void)
{
    return splitmix64() % 1000000001ull;
}

static inline double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* A "VmHWM:" or "VmRSS:" figure of /proc/self/status, in bytes. Both come
 * from the same counters, so their difference is consistent. */
static inline double status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    check(f != NULL, "open /proc/self/status");
    char line[256];
    double kb = -1;
    size_t len = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0) {
            kb = strtod(line + len, NULL);
            break;
        }
    fclose(f);
    check(kb >= 0, field);
    return kb * 1024.0;
}

static inline double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#endif
