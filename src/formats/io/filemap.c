#include "io/filemap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "io/fileio.h"

QsStatus filemap_open_fd(int fd, size_t n, const char *path, FileMap *out, QsError *err)
{
    static unsigned char empty[8];
    memset(out, 0, sizeof *out);
    if (n == 0) {
        out->addr = empty;
        return QS_OK;
    }
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return qs_fail(err, QS_EIO, "%s: cannot map %zu bytes: %s", path, n, strerror(errno));
    out->addr = p;
    out->bytes = n;
    out->mapped = 1;
    return QS_OK;
}

QsStatus filemap_open(const char *path, FileMap *out, QsError *err)
{
    memset(out, 0, sizeof *out);
    size_t n;
    FILE *f = fileio_open_read_sized(path, &n, err);
    if (!f)
        return err->code;
    QsStatus st = filemap_open_fd(fileno(f), n, path, out, err);
    fclose(f); /* the mapping keeps the file open */
    return st;
}

void filemap_release(FileMap *fm)
{
    if (fm->mapped)
        munmap(fm->addr, fm->bytes);
    memset(fm, 0, sizeof *fm);
}
