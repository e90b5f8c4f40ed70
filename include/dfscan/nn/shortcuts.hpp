#pragma once
// dfscan's departures from the reference networks' operator sequence, for speed, all at inference
// only (training runs the reference's operators): GenConViT-ED's two backbone passes as one batch,
// ConvNeXt LayerNorms in the activation's precision under autocast, and each ConvNeXt block's layer
// scale and residual as one addcmul. The results agree with the reference within its parity
// tolerance. On by default; off runs the
// reference's operators one for one, which is what `dfscan bench --reference-ops` measures them
// against. Process-wide: set it before running networks, not while they run.

namespace dfscan::nn {

void set_shortcuts_enabled(bool on);
bool shortcuts_enabled();

}  // namespace dfscan::nn
