#include "io/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a non-regular file is, for the error that refuses it. */
static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a file";
}

/* fileio_open_read, with the file's status in *st. */
static FILE *open_regular(const char *path, struct stat *st, QsError *err)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever,
     * before fstat could refuse it. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        qs_fail(err, QS_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, st) != 0) {
        qs_fail(err, QS_EIO, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st->st_mode)) {
        qs_fail(err, QS_EIO, "%s is not a regular file (%s)", path, file_kind(st->st_mode));
        close(fd);
        return NULL;
    }
    int flags = fcntl(fd, F_GETFL);
    FILE *f = flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ? NULL
                                                                       : fdopen(fd, "rb");
    if (!f) {
        qs_fail(err, QS_EIO, "%s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

FILE *fileio_open_read(const char *path, QsError *err)
{
    struct stat st;
    return open_regular(path, &st, err);
}

FILE *fileio_open_read_sized(const char *path, size_t *bytes, QsError *err)
{
    struct stat st;
    FILE *f = open_regular(path, &st, err);
    if (f && (uint64_t)st.st_size > SIZE_MAX - 1) {
        qs_fail(err, QS_ENOMEM, "%s: %lld bytes do not fit the address space", path,
                (long long)st.st_size);
        fclose(f);
        return NULL;
    }
    *bytes = f ? (size_t)st.st_size : 0;
    return f;
}

QsStatus fileio_read(const char *path, void **buf, size_t *len, QsError *err)
{
    *buf = NULL;
    *len = 0;
    size_t n;
    FILE *f = fileio_open_read_sized(path, &n, err);
    if (!f)
        return err->code;
    char *data = malloc(n + 1);
    if (!data) {
        fclose(f);
        return qs_fail(err, QS_ENOMEM, "%s: cannot allocate %zu bytes to read it", path, n + 1);
    }
    size_t got = fread(data, 1, n, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != n) {
        free(data);
        return qs_fail(err, QS_EIO, "%s: read %zu of %zu bytes", path, got, n);
    }
    data[n] = '\0';
    *buf = data;
    *len = n;
    return QS_OK;
}

QsStatus fileio_write_atomic(const char *path, const void *buf, size_t len, QsError *err)
{
    size_t plen = strlen(path);
    char *tmp = xmalloc(plen + 5);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    QsStatus st = QS_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        st = qs_fail(err, QS_EIO, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    const char *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = qs_fail(err, QS_EIO, "%s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            goto cleanup;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        st = qs_fail(err, QS_EIO, "%s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto cleanup;
    }
    if (rename(tmp, path) != 0) {
        st = qs_fail(err, QS_EIO, "renaming %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
    }
cleanup:
    free(tmp);
    return st;
}

int fileio_has_suffix(const char *path, const char *suffix)
{
    size_t a = strlen(path), b = strlen(suffix);
    return a >= b && strcmp(path + a - b, suffix) == 0;
}
