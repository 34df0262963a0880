/* gt-send: closed-loop UDP flood over loopback, for the ground-truth guest.
 * usage: gt-send PORT FLOWS SECS
 * One connected socket per flow (source ports 30000.. so RPS hashes FLOWS distinct 4-tuples), sent
 * round-robin as fast as the CPU allows; the clock is read once per 64 sends so that reading it does
 * not dominate. Prints one line: "sent=N errors=E elapsed_ns=T cpu=C run_ns=R wait_ns=W" (C: the
 * CPU it ended on; R and W from /proc/self/schedstat: time on the CPU and time runnable but waiting
 * for it, left out when the kernel has no schedstat). Exit 2 on bad arguments. */
#define _GNU_SOURCE /* sched_getcpu */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SPORT_BASE 30000
#define MAX_FLOWS 1024
#define BATCH 64

static long arg(const char *s, const char *name, long lo, long hi) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "gt-send: bad %s '%s' (want %ld..%ld)\n", name, s, lo, hi);
    exit(2);
  }
  return v;
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: gt-send PORT FLOWS SECS\n");
    return 2;
  }
  int port = (int)arg(argv[1], "PORT", 1, 65535);
  int flows = (int)arg(argv[2], "FLOWS", 1, MAX_FLOWS);
  long secs = arg(argv[3], "SECS", 1, 3600);
  static int fds[MAX_FLOWS];
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < flows; i++) {
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(SPORT_BASE + i)};
    src.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
    if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&src, sizeof src) < 0 ||
        connect(fds[i], (struct sockaddr *)&dst, sizeof dst) < 0) {
      fprintf(stderr, "gt-send: socket for flow %d: %s\n", i, strerror(errno));
      return 1;
    }
  }
  char payload[64];
  memset(payload, 'g', sizeof payload);
  unsigned long long sent = 0, errors = 0;
  long long start = now_ns(), end = start + secs * 1000000000LL, t = start;
  int f = 0;
  while (t < end) {
    for (int i = 0; i < BATCH; i++) {
      if (send(fds[f], payload, sizeof payload, 0) == (ssize_t)sizeof payload) sent++;
      else errors++;
      if (++f == flows) f = 0;
    }
    t = now_ns();
  }
  printf("sent=%llu errors=%llu elapsed_ns=%lld cpu=%d", sent, errors, t - start, sched_getcpu());
  /* Where the sender's time went: on the CPU (its own work and the softirqs run in its context) or
   * runnable behind another task (ksoftirqd on its CPU). */
  FILE *ss = fopen("/proc/self/schedstat", "r");
  unsigned long long run = 0, wait = 0;
  if (ss && fscanf(ss, "%llu %llu", &run, &wait) == 2) printf(" run_ns=%llu wait_ns=%llu", run, wait);
  if (ss) fclose(ss);
  printf("\n");
  return 0;
}
