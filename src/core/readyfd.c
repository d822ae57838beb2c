/* core/readyfd.c — readiness file descriptors (eventfd, or a pipe where eventfd is missing). */
#include "core/readyfd.h"

#include "mosaik/core.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int mk_readyfd_init(mk_readyfd_t *r) {
    r->ready = false;
    r->armed = true;
    r->rfd = r->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->rfd >= 0) return MK_OK;
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
        r->rfd = r->wfd = -1;
        return MK_EIO;
    }
    r->rfd = p[0];
    r->wfd = p[1];
    return MK_OK;
}

void mk_readyfd_close(mk_readyfd_t *r) {
    if (r->rfd >= 0) close(r->rfd);
    if (r->wfd >= 0 && r->wfd != r->rfd) close(r->wfd);
    r->rfd = r->wfd = -1;
    r->ready = false;
}

void mk_readyfd_set(mk_readyfd_t *r, bool ready) {
    if (r->rfd < 0 || r->ready == ready) return;
    r->ready = ready;
    if (!r->armed) return;
    if (ready) {
        uint64_t one = 1;
        ssize_t w = write(r->wfd, &one, r->wfd == r->rfd ? sizeof one : 1);
        (void)w;
    } else {
        uint8_t buf[64];
        while (read(r->rfd, buf, sizeof buf) > 0) {
        }
    }
}

int mk_readyfd_arm(mk_readyfd_t *r) {
    if (r->rfd >= 0 && !r->armed) {
        r->armed = true;
        if (r->ready) {
            uint64_t one = 1;
            ssize_t w = write(r->wfd, &one, r->wfd == r->rfd ? sizeof one : 1);
            (void)w;
        }
    }
    return r->rfd;
}
