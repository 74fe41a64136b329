/* .npz through its path (a memfd): the zip central directory, local headers, stored and
 * deflated members, and each member's .npy parse. Lists the members, then loads the first
 * few and one name that is absent (the not-found message lists the members), and locates
 * each of those through npz_member_layout (the in-place path of a large stored member). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "arrays/npz.h"
#include "fuzz_file.h"

enum { MAX_MEMBERS_LOADED = 4 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_path(data, size);
    if (!path)
        return 0;
    QsError err = { 0 };
    char **names = NULL;
    int n = 0;
    if (npz_list(path, &names, &n, &err) == QS_OK) {
        for (int i = 0; i < n; i++) {
            if (i < MAX_MEMBERS_LOADED) {
                tensor_free(npz_load_member(path, names[i], &err));
                NpzMemberLayout lay;
                (void)npz_member_layout(path, data, size, names[i], &lay, &err);
            }
            free(names[i]);
        }
        free(names);
    }
    tensor_free(npz_load_member(path, "no such member", &err));
    return 0;
}
