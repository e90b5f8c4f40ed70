#pragma once
// dfscan's departures from the reference networks' operator sequence, for speed, all at inference
// only (training, its validation included, runs the reference's operators): GenConViT-ED's two
// backbone passes as one batch, ConvNeXt LayerNorms in the activation's precision under autocast,
// and each ConvNeXt block's layer scale and residual as one addcmul. The results agree with the
// reference within its parity tolerance. On by default; off runs the reference's operators one for
// one, which is what `dfscan bench --reference-ops` measures them against. Process-wide: set it
// before running networks, not while they run.

namespace dfscan::nn {

void set_shortcuts_enabled(bool on);
bool shortcuts_enabled();

// Sets the switch for its lifetime and restores the previous setting, however the scope ends.
class ScopedShortcuts {
 public:
  explicit ScopedShortcuts(bool on) : before_(shortcuts_enabled()) { set_shortcuts_enabled(on); }
  ~ScopedShortcuts() { set_shortcuts_enabled(before_); }
  ScopedShortcuts(const ScopedShortcuts&) = delete;
  ScopedShortcuts& operator=(const ScopedShortcuts&) = delete;

 private:
  bool before_;
};

}  // namespace dfscan::nn
