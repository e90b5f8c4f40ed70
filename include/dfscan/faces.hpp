#pragma once
// Faces layer: pluggable face detectors, a tracker that links detections across sampled frames,
// and square crops with a margin. Torch-free; works on cv::Mat.
//
// Image convention: detectors take the media layer's frames (8-bit RGB). They also accept grey,
// RGBA, 16-bit and float images (converted first) and return nothing for empty images.
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "dfscan/media.hpp"
#include "dfscan/status.hpp"

namespace dfscan::faces {

struct Face {
  cv::Rect2f box;  // pixels of the image given to detect(), clipped to it
  // The backend's own confidence, not a probability: Haar/LBP = number of merged neighbour
  // windows, dlib HOG = SVM margin (about 0 at the threshold), YuNet = score in [0, 1].
  float score = 0.f;
  // Five points (right eye, left eye, nose tip, right mouth corner, left mouth corner) where
  // the backend has them (YuNet); empty otherwise.
  std::vector<cv::Point2f> landmarks;
};

struct DetectorOptions {
  // Detection runs on a copy downscaled so that its longest side is at most this many pixels;
  // boxes are mapped back to full resolution. 0 disables downscaling.
  int max_side = 640;
  // Images whose longest side is below this are upscaled before detection, so small faces in
  // small images (thumbnails, face crops) are still found. 0 disables upscaling.
  int min_side = 0;
  // Cascades: minimum number of merged neighbours; -1 keeps the backend's tuned default.
  int min_neighbors = -1;
  // Cascades: step between pyramid scales (> 1); 0 keeps the backend's tuned default.
  double scale_factor = 0.0;
  // dlib HOG: pyramid upsampling steps (each doubles the image; 0 finds faces >= 80 px).
  int upsample = 0;
  // Detections below this confidence (backend units, see Face::score) are dropped.
  float min_score = -1e9f;
};

// Detects faces in one image. One instance per thread: backends keep mutable scratch state.
class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  // Name as accepted by make_face_detector (e.g. "haar-alt2", "dlib-hog", "yunet:/m.onnx").
  virtual std::string name() const = 0;
  // Never throws for odd inputs (empty, 1x1, grey, 16-bit); throws dfscan::Error for
  // unsupported pixel types such as multi-channel signed images.
  std::vector<Face> detect(const cv::Mat& image);

 protected:
  explicit FaceDetector(DetectorOptions options) : options_(options) {}
  // Gets an 8-bit image already scaled to the detection size: 3-channel RGB, or single-channel
  // grey when grey_input() is true (cheaper for cascades, which only look at luminance).
  virtual std::vector<Face> detect_scaled(const cv::Mat& image) = 0;
  virtual bool grey_input() const { return false; }
  const DetectorOptions& options() const { return options_; }

 private:
  std::vector<Face> detect_checked(const cv::Mat& image);
  DetectorOptions options_;
};

// Backend names: "haar" (frontalface_default), "haar-alt", "haar-alt2", "lbp", "lbp-improved",
// "dlib-hog", "yunet:PATH.onnx", and "default" (see default_detector_name()). A comma-separated
// list ("lbp-improved,dlib-hog") runs them in turn on each frame until one finds a face.
// Throws dfscan::Error on unknown names or missing model files.
std::unique_ptr<FaceDetector> make_face_detector(const std::string& name,
                                                 const DetectorOptions& options = {});
std::string default_detector_name();
std::vector<std::string> detector_names();

// Detects over many frames on worker threads, each with its own detector instance (created on
// first use and kept, so a scan of many files pays the model loading once per thread).
class FaceDetectorPool {
 public:
  // threads <= 0: usable_cpus(). Checks the name at once (throws dfscan::Error).
  FaceDetectorPool(std::string detector_name, DetectorOptions options = {}, int threads = 0);
  ~FaceDetectorPool();
  FaceDetectorPool(const FaceDetectorPool&) = delete;
  FaceDetectorPool& operator=(const FaceDetectorPool&) = delete;

  const std::string& detector_name() const { return name_; }
  // Result i holds the faces of frames[i]. Not reentrant: one call at a time per pool.
  std::vector<std::vector<Face>> detect(const std::vector<cv::Mat>& frames);

 private:
  std::string name_;
  DetectorOptions options_;
  std::vector<std::unique_ptr<FaceDetector>> workers_;
};

// ---------------------------------------------------------------------------------------------
// Tracking

struct TrackerOptions {
  // A detection continues a track when IoU with the track's last box is at least this...
  float min_iou = 0.3f;
  // ...or, failing that, when its centre moved less than this fraction of the box side.
  // Frames sampled a second apart let a face move further than IoU alone tolerates.
  float max_center_shift = 0.5f;
  // Sides may differ by at most this ratio between linked detections.
  float max_size_ratio = 1.6f;
  // A track survives this many consecutive sampled frames without a detection.
  int max_gap = 2;
  // Tracks seen in fewer than ceil(min_track_fraction * sampled frames) frames (at least 1)
  // are dropped as false positives: 4 of 16 by default, and 1 of 1 for a still image.
  float min_track_fraction = 0.25f;
};

struct TrackedFace {
  int frame_index = 0;  // index into the sampled frames
  double t = 0.0;       // seconds
  Face face;
};

struct Track {
  int id = 0;  // 0.. in order of first appearance, after dropping short tracks
  std::vector<TrackedFace> frames;
};

// faces[i] holds the detections of sampled frame i, at time times[i] (same length).
std::vector<Track> track_faces(const std::vector<std::vector<Face>>& faces, const std::vector<double>& times,
                               const TrackerOptions& options = {});

int min_track_length(int sampled_frames, const TrackerOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Crops

// How a model wants its faces; the model manifest fills it (CONVENTIONS.md: face detector,
// margin, frames, input size).
struct FaceSetup {
  std::string detector = "default";
  // Added on each side, as a fraction of the box side: the crop side is
  // (1 + 2 * margin) * max(w, h). FaceForensics++'s "scale 1.3" is margin 0.15.
  float margin = 0.3f;
  // false keeps the detector's box shape (with margin) instead of a square:
  // GenConViT's reference crops the tight dlib box, i.e. {detector "dlib-hog", margin 0, square false}.
  bool square = true;
  int frames = 16;       // sampled frames per video
  int input_size = 224;  // crop side in pixels
};

// A model's face setup: its manifest's "faces" object over the defaults above, the crop side
// falling back to the manifest's "input" size. The scanner and the face-crop cache both start
// here, then apply explicit options on top (CONVENTIONS.md: option > manifest > default), so a
// cache built for a model crops exactly as scanning with that model does.
FaceSetup face_setup_from_manifest(const nlohmann::json& manifest);

// The crop rectangle for a box: square (if asked) around the box centre, grown by the margin,
// moved (not cut) to stay inside the frame, and shrunk only when the frame is too small.
cv::Rect crop_rect(const cv::Rect2f& box, const cv::Size& frame, const FaceSetup& setup);

// Crops and resizes to input_size x input_size (INTER_AREA when shrinking, INTER_LINEAR when
// enlarging). Returns an empty Mat when the rectangle is empty.
cv::Mat crop_face(const cv::Mat& frame, const cv::Rect2f& box, const FaceSetup& setup);

// ---------------------------------------------------------------------------------------------
// A whole file: decode, detect, track (what `dfscan faces` prints)

struct FileFaces {
  Status status = Status::ok;  // ok, no_face, not_scored (audio only), or the media status
  std::string message;         // one line; empty when ok
  std::vector<std::string> warnings;
  std::string modality;  // "video", "video+audio", "image", "audio"; empty when unknown
  int frames_sampled = 0;
  std::vector<Track> tracks;
  double decode_ms = 0.0, faces_ms = 0.0;
};

// The frames faces are looked for in: an image is one frame at t = 0, a video `frames` uniform
// frames. Per-file problems come back as a status (not_scored when there is no picture at all).
struct SampledFrames {
  Status status = Status::ok;
  std::string message;
  std::vector<std::string> warnings;
  std::string modality;         // as FileFaces::modality
  std::vector<cv::Mat> frames;  // RGB
  std::vector<double> times;    // seconds
};
SampledFrames sample_frames(const std::string& path, int frames, const media::Limits& limits = {},
                            int decode_threads = 0);

// Samples setup.frames uniform frames of a video (an image is one frame at t = 0), detects faces
// with the pool and links them into tracks. When crops_dir is not empty, writes every tracked
// face cropped as `setup` says to crops_dir/<file stem>_t<track>_f<sampled frame>.png.
// Per-file problems come back as a status; it throws only for pool or crop-writing errors.
FileFaces find_faces_in_file(const std::string& path, FaceDetectorPool& pool, const FaceSetup& setup,
                             const media::Limits& limits = {}, const std::string& crops_dir = "",
                             const TrackerOptions& tracker = {});

}  // namespace dfscan::faces
