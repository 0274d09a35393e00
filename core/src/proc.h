/* proc.h - who a process is (pid, start time, boot, host) and whether one
 * recorded earlier is still alive. Used by leases and the reader table. */
#ifndef H5TX_PROC_H
#define H5TX_PROC_H

#include <stdint.h>

typedef struct h5tx__proc {
  uint32_t pid;
  uint64_t start; /* clock ticks since boot, /proc/PID/stat field 22 */
  uint64_t boot;  /* hash of /proc/sys/kernel/random/boot_id */
  char host[256];
} h5tx__proc;

/* This process (recomputed after fork). */
const h5tx__proc *h5tx__proc_self(void);

/* Start time of `pid`, or 0 if it does not exist or is a zombie. */
uint64_t h5tx__proc_start(uint32_t pid);

/* 1 if the process (pid, start, boot) recorded on `host` (NULL: this host)
 * may still be alive: another host or a live pid with the same start time
 * on this boot. 0 if it is certainly dead. */
int h5tx__proc_alive(uint32_t pid, uint64_t start, uint64_t boot, const char *host);

#endif
