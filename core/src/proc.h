/* proc.h - who this process is (pid, host), for leases, pins and commit
 * records, and the test hook that stops a process between protocol steps.
 * Whether another process is alive is never guessed from a pid: the live
 * table's OFD locks decide it (pins.c). */
#ifndef H5TX_PROC_H
#define H5TX_PROC_H

#include <stdint.h>

typedef struct h5tx__proc {
  uint32_t pid;
  char host[256];
} h5tx__proc;

/* This process (recomputed after fork). */
const h5tx__proc *h5tx__proc_self(void);

/* Test hook: when the environment variable H5TX_TEST_STOP is
 * "POINT[,POINT...]:WFD:RFD" and `point` is one of the POINTs, write one
 * byte to fd WFD and block
 * until one byte can be read from fd RFD. Tests use it to stop a process
 * between two steps of a protocol (and to kill it there). */
void h5tx__test_stop(const char *point);

#endif
