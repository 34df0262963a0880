/* gt-recv: the receiving task of the ground-truth guest: drains one UDP socket on 127.0.0.1:PORT
 * (loopback phases), or on every address with "any" (NIC phases: the flood arrives on eth0).
 * usage: gt-recv PORT READY_FILE [any]
 * Creates READY_FILE once bound (the init script waits for it before the sender starts). On SIGTERM
 * prints one line "received=N cpu=C" (the CPU it ended on) and exits 0. A receive timeout lets the loop notice the signal. */
#define _GNU_SOURCE /* sched_getcpu */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  if (argc != 3 && !(argc == 4 && strcmp(argv[3], "any") == 0)) {
    fprintf(stderr, "usage: gt-recv PORT READY_FILE [any]\n");
    return 2;
  }
  char *end;
  long port = strtol(argv[1], &end, 10);
  if (*argv[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
    fprintf(stderr, "gt-recv: bad PORT '%s'\n", argv[1]);
    return 2;
  }
  struct sigaction sa = {.sa_handler = on_term};
  sigaction(SIGTERM, &sa, NULL);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  a.sin_addr.s_addr = htonl(argc == 4 ? INADDR_ANY : INADDR_LOOPBACK);
  struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
    fprintf(stderr, "gt-recv: socket: %s\n", strerror(errno));
    return 1;
  }
  int r = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (r < 0) {
    fprintf(stderr, "gt-recv: %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  close(r);
  unsigned long long received = 0;
  char buf[2048];
  while (!stop) {
    if (recv(fd, buf, sizeof buf, 0) >= 0) received++;
  }
  printf("received=%llu cpu=%d\n", received, sched_getcpu());
  return 0;
}
