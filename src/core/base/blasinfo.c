#include "base/blasinfo.h"

#include <cblas.h>

const char *blas_core_name(void) { return openblas_get_corename(); }

const char *blas_config(void) { return openblas_get_config(); }
