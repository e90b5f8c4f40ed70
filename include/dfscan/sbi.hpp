#pragma once
// Self-blended images (SBI; Shiohara & Yamasaki, CVPR 2022): training fakes made from real faces alone.
// Each real face is blended with a colour-, frequency- and geometry-perturbed copy of itself inside a
// face mask that is deformed, blurred and scaled by a random blend ratio, so a detector learns the
// traces of blending (boundaries, colour and sharpness mismatches) without seeing a generator's output.
//
// The mask is the convex hull of 68 facial landmarks when they are given (dlib's model, see
// LandmarkFinder), otherwise an ellipse in the face box. Everything runs on the CPU and, for a given
// image, landmarks, options and seed, gives the same pixels. Needs the media build (OpenCV).
#include <ATen/Tensor.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dfscan/dataset.hpp"

namespace dfscan::data {

// Points in pixels of the image they belong to (x, y).
using Landmarks = std::vector<std::array<float, 2>>;

struct SelfBlendOptions {
  // Without landmarks the face box is the crop's centred rectangle of (1 / (1 + 2 * face_margin)) of
  // each side: 0 for tight detector-box crops (`dfscan faces --tight`), 0.3 for dfscan's default crops.
  float face_margin = 0.0f;
  // The mask is scaled by one of these, drawn uniformly (1 appears thrice, as in the paper).
  std::vector<float> blend_ratios{0.25f, 0.5f, 0.75f, 1.0f, 1.0f, 1.0f};
  float max_shift = 0.03f;    // source translation, fraction of the image side
  float max_scale = 0.05f;    // source rescaling, 1 +- this
  float mask_jitter = 0.06f;  // hull scaling, translation and elastic amplitude, fraction of the face size
};

struct SelfBlend {
  at::Tensor image;            // uint8 [H,W,3]: target + mask * (source - target); the target is the input
  at::Tensor source;           // uint8 [H,W,3]: the perturbed copy
  at::Tensor mask;             // float [H,W] in [0, 1]: the weight of the source
  bool landmark_mask = false;  // the hull came from landmarks (else from the face box)
};

// The undeformed face region of an HxW image: 1 inside the convex hull of `landmarks` (3 or more
// points, clipped to the image), or inside the ellipse inscribed in the face box; 0 elsewhere.
at::Tensor face_region(int64_t height, int64_t width, const Landmarks& landmarks,
                       const SelfBlendOptions& options = {});

// Blends RGB uint8 [H,W,3] with a perturbed copy of itself. Throws dfscan::Error on other inputs.
SelfBlend self_blend(const at::Tensor& rgb_hwc, const Landmarks& landmarks, uint64_t seed,
                     const SelfBlendOptions& options = {});

// dlib's 68-point shape predictor. Its model file (libdlib-data) is trained on iBUG 300-W, whose
// licence excludes commercial use: the first use logs a notice saying so.
class LandmarkFinder {
 public:
  // Throws dfscan::Error when the model cannot be read (or this build has no media layer).
  explicit LandmarkFinder(const std::string& model_path);
  ~LandmarkFinder();
  LandmarkFinder(const LandmarkFinder&) = delete;
  LandmarkFinder& operator=(const LandmarkFinder&) = delete;

  // The 68 points of the largest face dlib's HOG detector finds in an RGB uint8 [H,W,3] crop; when it
  // finds none, the points fitted to the crop's face box (face_margin as in SelfBlendOptions).
  // Thread-safe (one call at a time).
  Landmarks find(const at::Tensor& rgb_hwc, float face_margin = 0.0f) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// $DFSCAN_LANDMARK_MODEL, else Debian's /usr/share/dlib/shape_predictor_68_face_landmarks.dat;
// empty when that file does not exist.
std::string landmark_model_path();
// The one-line licence notice logged when the landmark model is used.
std::string landmark_model_notice();
// True once a self-blend sample in this process drew its mask from the landmark model: a model
// trained on such samples carries landmark_model_notice() in its manifest's training terms.
bool landmark_model_used();

// ---- A training data source -------------------------------------------------------------------
// "sbi:SPEC" uses landmarks when the model is available (landmark_model_path()), "sbi-hull:SPEC"
// always uses the box ellipse (no iBUG 300-W model involved). SPEC is a {train,valid,test}/{real,fake}
// folder or CSV (only its real samples are used), or any folder of images, all taken as real; those
// are split train/valid by a stable hash of the path relative to the folder (1 in 5 to valid).
// Every real sample appears twice: as itself (label 0) and as its self-blend (label 1).
bool is_self_blend_spec(const std::string& spec);
Dataset open_self_blend_dataset(const std::string& spec);

// True for the label-1 samples of a self-blend data source.
bool is_self_blend(const Sample& sample);
// The self-blend of `rgb_hwc` (the decoded sample) for self-blend samples, drawn with `seed`; other
// samples come back unchanged. Landmarks are found once per path and kept.
at::Tensor blend_sample(const at::Tensor& rgb_hwc, const Sample& sample, uint64_t seed);

}  // namespace dfscan::data
