/* Test hooks of the atomic writer. */
#pragma once

#include "base/cs-atomic-file.h"

G_BEGIN_DECLS

/* For tests: make the next writes fail with @errnum after @bytes bytes (0 disables). */
void cs_write_file_inject_failure (gsize bytes,
                                   int   errnum);

G_END_DECLS
