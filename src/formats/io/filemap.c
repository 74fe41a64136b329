#include "io/filemap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "io/fileio.h"

QsStatus filemap_open(const char *path, FileMap *out, QsError *err)
{
    static unsigned char empty[8];
    memset(out, 0, sizeof *out);
    FILE *f = fileio_open_read(path, err);
    if (!f)
        return QS_EIO;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return qs_fail(err, QS_EIO, "%s: %s", path, strerror(errno));
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        fclose(f);
        return qs_fail(err, QS_ENOMEM, "%s: %lld bytes do not fit the address space", path,
                       (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    if (n == 0) {
        fclose(f);
        out->addr = empty;
        return QS_OK;
    }
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE, fileno(f), 0);
    int e = errno;
    fclose(f); /* the mapping keeps the file open */
    if (p == MAP_FAILED)
        return qs_fail(err, QS_EIO, "%s: cannot map %zu bytes: %s", path, n, strerror(e));
    out->addr = p;
    out->bytes = n;
    out->mapped = 1;
    return QS_OK;
}

void filemap_release(FileMap *fm)
{
    if (fm->mapped)
        munmap(fm->addr, fm->bytes);
    memset(fm, 0, sizeof *fm);
}
