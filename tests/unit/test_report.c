/* report: every section present, figures equal to the commands' own results, the file
 * written atomically (no .tmp left). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds/app.h"
#include "cmds/commands.h"
#include "io/fileio.h"
#include "test_util.h"

int main(void)
{
    App app;
    app_init(&app);
    QsError err = { 0 };
    const char *path = "/tmp/qscope_test_report.json";
    unlink(path);
    CHECK_OK(cmd_exec_line(&app, "load models/mnist_dw.qsm; source scripts/train/mnist_data.qs;"
                                 "calibrate n=200; mode int8-static; variant save ptq;"
                                 "report /tmp/qscope_test_report.json drop<=1%", &err), &err);
    void *buf;
    size_t len;
    CHECK_OK(fileio_read(path, &buf, &len, &err), &err);
    CHECK(access("/tmp/qscope_test_report.json.tmp", F_OK) != 0);
    cJSON *doc = buf ? cJSON_Parse(buf) : NULL;
    CHECK(doc != NULL);
    const char *sections[] = { "model", "data", "plan", "layers", "error", "local_error",
                               "variants", "pick" };
    for (size_t i = 0; doc && i < sizeof sections / sizeof sections[0]; i++) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, sections[i]);
        CHECK(cJSON_IsObject(s) && !cJSON_GetObjectItemCaseSensitive(s, "skipped"));
    }
    if (doc) {
        const cJSON *plan = cJSON_GetObjectItemCaseSensitive(doc, "plan");
        CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(plan, "mode")->valuestring,
                     "int8-static") == 0);
        const cJSON *layers = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(doc, "layers"), "layers");
        CHECK(cJSON_GetArraySize(layers) == app.session.model->graph.n_nodes);
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(doc, "variants"), "variants");
        CHECK(cJSON_GetArraySize(rows) == 5); /* four precisions + ptq */
        const cJSON *pick = cJSON_GetObjectItemCaseSensitive(doc, "pick");
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(pick, "winner")));
        CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(doc, "calibrated_on")->valuestring,
                     "calib") == 0);
    }
    /* a path without .json is refused before anything runs */
    expect_error("suffix", cmd_exec_line(&app, "report /tmp/x.txt", &err), &err, QS_EINVAL,
                 "must end in .json");
    cJSON_Delete(doc);
    free(buf);
    unlink(path);
    app_release(&app);
    return test_summary("report");
}
