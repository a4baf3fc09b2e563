/* The .pth reader (torch.save's zip format). */
#pragma once

#include "formats/cs-tensor.h"

G_BEGIN_DECLS

/* The pickle machine's memory budget: this much, plus this much per byte of data.pkl. */
#define CS_PTH_VM_FIXED_BUDGET    ((gsize) 16 * 1024 * 1024)
#define CS_PTH_VM_BUDGET_PER_BYTE ((gsize) 24)

CsCheckpoint *cs_pth_parse (const guint8 *data,
                            gsize         len,
                            const char   *path,
                            GError      **error);

G_END_DECLS
