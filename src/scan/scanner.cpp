#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "dfscan/detector.hpp"
#include "dfscan/faces.hpp"
#include "dfscan/log.hpp"
#include "dfscan/media.hpp"
#include "dfscan/model_file.hpp"
#include "dfscan/ordered_pipeline.hpp"
#include "dfscan/runtime.hpp"
#include "dfscan/scan.hpp"
#include "dfscan/status.hpp"
#include "scan/audio_scoring.hpp"

namespace dfscan {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr const char* kSchema = "dfscan.result/1";

// One face crop ready for the face detectors, with where it came from.
struct Crop {
  int track = 0;
  double t = 0.0;
  cv::Rect2f box;
  float detector_score = 0.f;
};

// What the decode + faces stage hands to inference for one file.
struct Prepared {
  std::string path;
  Status status = Status::ok;
  std::string message;
  std::vector<std::string> warnings;
  std::string modality;
  double duration = 0.0;
  at::Tensor whole;  // RGB uint8 [H,W,3]: the still image, for whole-image detectors
  std::vector<Crop> crops;
  at::Tensor crop_pixels;  // RGB uint8 [M,S,S,3]
  int track_count = 0;
  double decode_ms = 0.0, faces_ms = 0.0;
  scan_audio::DecodedAudio audio;  // decoded only when an audio model is loaded
};

at::Tensor mat_to_tensor(const cv::Mat& rgb) {
  return torch::from_blob(const_cast<uint8_t*>(rgb.ptr<uint8_t>()), {rgb.rows, rgb.cols, 3},
                          {static_cast<int64_t>(rgb.step[0]), 3, 1}, torch::kByte)
      .clone();
}

faces::FaceSetup face_setup_from(const nlohmann::json& manifest, const ScanOptions& options) {
  auto setup = faces::face_setup_from_manifest(manifest);
  if (options.frames > 0) setup.frames = options.frames;
  if (options.face_margin >= 0) setup.margin = static_cast<float>(options.face_margin);
  if (!options.face_detector.empty()) setup.detector = options.face_detector;
  return setup;
}

std::string modality_name(media::Modality m) {
  return media::to_string(m);
}

// Finds the faces of each frame on a second thread while the decoder works on the next frames.
class StreamingFaceFinder {
 public:
  using Detect = std::function<std::vector<faces::Face>(const cv::Mat&)>;
  explicit StreamingFaceFinder(Detect detect) : detect_(std::move(detect)), thread_([this] { run(); }) {}
  ~StreamingFaceFinder() { close(/*abandon=*/true); }
  StreamingFaceFinder(const StreamingFaceFinder&) = delete;
  StreamingFaceFinder& operator=(const StreamingFaceFinder&) = delete;

  void push(const cv::Mat& frame) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(frame);
    }
    wake_.notify_one();
  }

  // Waits for the faces of every pushed frame, in push order; rethrows a detector failure.
  std::vector<std::vector<faces::Face>> finish() {
    close(/*abandon=*/false);
    if (error_) std::rethrow_exception(error_);
    return std::move(results_);
  }

 private:
  void close(bool abandon) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
      abandon_ = abandon_ || abandon;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  void run() {
    for (;;) {
      cv::Mat frame;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (abandon_ || queue_.empty()) return;
        frame = std::move(queue_.front());
        queue_.pop_front();
      }
      if (error_) continue;  // drain: the first failure is the one reported
      try {
        results_.push_back(detect_(frame));
      } catch (...) {
        error_ = std::current_exception();
      }
    }
  }

  Detect detect_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<cv::Mat> queue_;
  bool closed_ = false, abandon_ = false;
  // Written by the thread only, read after it is joined.
  std::vector<std::vector<faces::Face>> results_;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace

std::vector<std::string> default_model_names() {
  return {"genconvit-ed-atto", "npr-proxy", "audio-lfcc-mlp"};
}

nlohmann::json failure_record(const std::string& path, const std::string& status,
                              const std::string& message) {
  return {{"type", "file"},
          {"schema", kSchema},
          {"path", path},
          {"status", status},
          {"warnings", nlohmann::json::array()},
          {"modality", nullptr},
          {"score", nullptr},
          {"label", nullptr},
          {"threshold", nullptr},
          {"aggregation", nullptr},
          {"detectors", nlohmann::json::array()},
          {"tracks", nlohmann::json::array()},
          {"timeline", nlohmann::json::array()},
          {"timings_ms", {{"decode", 0}, {"faces", 0}, {"infer", 0}, {"total", 0}}},
          {"error", message.empty() ? nlohmann::json(nullptr) : nlohmann::json(message)}};
}

struct Scanner::Impl {
  ScanOptions options;
  // The detectors load on a background thread while the first files decode (model loading and
  // the face detector's set-up are a third of a one-clip run): read them only after
  // wait_loaded(). Which kinds there are is known at once, from the manifests.
  std::vector<Detector> face_models;   // score face crops
  std::vector<Detector> image_models;  // score whole images
  std::vector<Detector> audio_models;  // score audio in windows
  int audio_rate = 0;
  bool has_face_models = false, has_audio_models = false;
  faces::FaceSetup setup;
  std::unique_ptr<faces::FaceDetectorPool> face_pool;  // valid after wait_face_pool()
  mutable std::mutex face_pool_mutex;  // the pool takes one call at a time; it parallelises inside
  media::Limits limits;
  // Declared after what they fill, so that they are destroyed (and joined) first.
  std::shared_future<void> loaded;
  std::shared_future<void> face_pool_built;

  // Both rethrow a loading failure, every time they are called.
  void wait_loaded() const {
    if (loaded.valid()) loaded.get();
  }
  void wait_face_pool() const {
    if (face_pool_built.valid()) face_pool_built.get();
  }
  int loaded_audio_rate() const {
    wait_loaded();
    return audio_rate;
  }

  Prepared prepare(const std::string& path) const;
  nlohmann::json infer(Prepared&& p) const;
};

Scanner::Scanner(ScanOptions options) : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.options = std::move(options);
  if (s.options.aggregate != "mean" && s.options.aggregate != "max" && s.options.aggregate != "genconvit-ref")
    throw Error(Status::error,
                "unknown aggregation '" + s.options.aggregate + "' (mean, max, genconvit-ref)");
  if (s.options.faces != "auto" && s.options.faces != "none")
    throw Error(Status::error, "--faces must be auto or none");
  const auto device = parse_device(s.options.device);
  auto names = s.options.models;
  if (names.empty()) {
    for (const auto& n : default_model_names()) {
      try {
        resolve_model(n);
        names.push_back(n);
      } catch (const Error&) {
        log::info("default model '" + n + "' is not installed");
      }
    }
    if (names.empty())
      throw Error(Status::not_found, "no model given and no shipped default model found; pass -m MODEL");
  }
  // Manifests first: a memory map and a JSON header, without hashing or converting the weights.
  enum class Role { face, image, audio };
  std::vector<std::pair<std::filesystem::path, Role>> models;
  for (const auto& n : names) {
    const auto path = resolve_model(n);
    io::ReadOptions header_only;
    header_only.verify_hash = false;
    const auto manifest = io::read_model_file(path, header_only).manifest;
    const std::string modality = manifest.value("modality", "");
    // With --faces none every detector sees the whole image.
    const Role role = modality == "audio"                               ? Role::audio
                      : modality == "face" && s.options.faces == "auto" ? Role::face
                                                                        : Role::image;
    if (role == Role::face) {
      if (!s.has_face_models) s.setup = face_setup_from(manifest, s.options);
      s.has_face_models = true;
      if (s.options.aggregate == "genconvit-ref" &&
          manifest.value("score", nlohmann::json::object()).value("activation", "") != "softmax")
        throw Error(Status::error, "--aggregate genconvit-ref needs two-logit models; '" +
                                       manifest.value("name", path.stem().string()) + "' has one");
    }
    if (role == Role::audio) s.has_audio_models = true;
    models.emplace_back(path, role);
  }
  s.limits.deadline_seconds = s.options.deadline_seconds;
  s.limits.max_pixels = s.options.max_pixels;

  // Then the weights and the face detector, each on its own thread, overlapping the first decode.
  s.loaded = std::async(std::launch::async, [&s, models, device] {
               for (const auto& [path, role] : models) {
                 auto d = Detector::load(path.string(), device);
                 d.configure({{"vae_sampling", s.options.vae_sampling}, {"seed", 0}});
                 (role == Role::audio  ? s.audio_models
                  : role == Role::face ? s.face_models
                                       : s.image_models)
                     .push_back(std::move(d));
               }
               s.audio_rate = scan_audio::models_sample_rate(s.audio_models);
             }).share();
  if (s.has_face_models)
    s.face_pool_built = std::async(std::launch::async, [&s] {
                          s.face_pool = std::make_unique<faces::FaceDetectorPool>(s.setup.detector);
                        }).share();
}

Scanner::~Scanner() = default;

nlohmann::json Scanner::describe_models() const {
  impl_->wait_loaded();
  auto out = nlohmann::json::array();
  for (const auto* list : {&impl_->face_models, &impl_->image_models, &impl_->audio_models})
    for (const auto& d : *list) out.push_back(d.identity());
  return out;
}

Prepared Scanner::Impl::prepare(const std::string& path) const {
  Prepared p;
  p.path = path;
  auto t0 = Clock::now();
  const auto info = media::probe(path, limits);
  p.modality = info.modality == media::Modality::unknown ? "" : modality_name(info.modality);
  p.warnings = info.warnings;
  if (info.status != Status::ok) {
    p.status = info.status;
    p.message = info.message;
    return p;
  }
  p.duration = info.duration.value_or(0.0);
  std::vector<cv::Mat> frames;
  std::vector<double> times;
  std::unique_ptr<StreamingFaceFinder> video_faces;
  if (info.modality == media::Modality::image) {
    auto img = media::read_image(path, limits);
    if (img.status != Status::ok) {
      p.status = img.status;
      p.message = img.message;
      return p;
    }
    p.warnings.insert(p.warnings.end(), img.warnings.begin(), img.warnings.end());
    p.whole = mat_to_tensor(img.rgb);
    frames.push_back(img.rgb);
    times.push_back(0.0);
  } else if (info.modality == media::Modality::video || info.modality == media::Modality::video_audio) {
    if (!has_face_models) {
      if (info.modality == media::Modality::video_audio && has_audio_models) {
        // Only the audio track is scored.
        p.audio = scan_audio::decode_audio(path, loaded_audio_rate(), limits);
        p.status = p.audio.status;
        p.message = p.audio.message;
        p.decode_ms = ms_since(t0);
        return p;
      }
      p.status = Status::not_scored;
      p.message = "no selected detector scores video";
      return p;
    }
    media::VideoOptions vo;
    vo.limits = limits;
    video_faces = std::make_unique<StreamingFaceFinder>([this](const cv::Mat& frame) {
      wait_face_pool();
      std::lock_guard<std::mutex> lock(face_pool_mutex);
      return face_pool->detect({frame}).front();
    });
    auto video = media::read_video(
        path, media::FrameSelection::uniform(setup.frames),
        [&](media::Frame&& f) {
          frames.push_back(std::move(f.rgb));
          times.push_back(f.pts);
          video_faces->push(frames.back());
          return true;
        },
        vo);
    for (const auto& w : video.warnings) p.warnings.push_back(w);
    if (video.status != Status::ok) {
      p.status = video.status;
      p.message = video.message;
      return p;
    }
    if (video.duration > 0) p.duration = video.duration;
    if (frames.empty()) {
      p.status = Status::empty;
      p.message = "no frame could be decoded";
      return p;
    }
    if (info.modality == media::Modality::video_audio) {
      if (!has_audio_models) {
        p.warnings.push_back("audio_not_scored");
      } else {
        p.audio = scan_audio::decode_audio(path, loaded_audio_rate(), limits);
        if (!p.audio.decoded()) p.warnings.push_back(std::string("audio_") + to_string(p.audio.status));
      }
    }
  } else {
    if (!has_audio_models) {
      p.status = Status::not_scored;
      p.message = "no selected detector scores audio";
      return p;
    }
    p.audio = scan_audio::decode_audio(path, loaded_audio_rate(), limits);
    for (const auto& w : p.audio.warnings) p.warnings.push_back(w);
    if (!p.audio.decoded()) {
      p.status = p.audio.status;
      p.message = p.audio.message;
      return p;
    }
  }
  // For videos this includes detecting faces in all but the last frames, on the second thread.
  p.decode_ms = ms_since(t0);

  if (has_face_models) {
    auto t1 = Clock::now();
    std::vector<std::vector<faces::Face>> detections;
    if (video_faces) {
      detections = video_faces->finish();
    } else {
      wait_face_pool();
      std::lock_guard<std::mutex> lock(face_pool_mutex);
      detections = face_pool->detect(frames);
    }
    auto tracks = faces::track_faces(detections, times);
    p.track_count = static_cast<int>(tracks.size());
    std::vector<at::Tensor> pixels;
    for (const auto& track : tracks) {
      for (const auto& tf : track.frames) {
        auto crop = faces::crop_face(frames[tf.frame_index], tf.face.box, setup);
        if (crop.empty()) continue;
        p.crops.push_back({track.id, tf.t, tf.face.box, tf.face.score});
        pixels.push_back(mat_to_tensor(crop));
      }
    }
    if (!pixels.empty()) p.crop_pixels = torch::stack(pixels);
    p.faces_ms = ms_since(t1);
  }
  return p;
}

namespace {

// Scores in [0,1] of one detector over prepared inputs, in batches.
struct DetectorOutput {
  at::Tensor logits;  // [N,K]
  at::Tensor scores;  // [N]
};

DetectorOutput run_detector(const Detector& d, const std::vector<at::Tensor>& inputs, int batch) {
  DetectorOutput out;
  out.logits = d.logits(inputs, batch);
  out.scores = d.scores(out.logits);
  return out;
}

nlohmann::json to_json_list(const at::Tensor& t) {
  auto c = t.to(torch::kDouble).contiguous();
  if (c.dim() == 1) return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  auto out = nlohmann::json::array();
  for (int64_t i = 0; i < c.size(0); ++i) out.push_back(to_json_list(c[i]));
  return out;
}

}  // namespace

nlohmann::json Scanner::Impl::infer(Prepared&& p) const {
  auto record = failure_record(p.path, to_string(p.status), p.message);
  record["modality"] = p.modality.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.modality);
  record["warnings"] = p.warnings;
  record["timings_ms"]["decode"] = std::round(p.decode_ms);
  record["timings_ms"]["faces"] = std::round(p.faces_ms);
  if (p.status != Status::ok) return record;
  auto t0 = Clock::now();
  torch::NoGradGuard no_grad;

  struct Verdict {
    double score;
    double threshold;
  };
  std::vector<Verdict> verdicts;
  auto detectors = nlohmann::json::array();
  auto threshold_of = [&](const Detector& d) { return options.threshold.value_or(d.threshold()); };

  // Face detectors: per crop -> per track (mean) -> per file (the chosen rule).
  std::vector<at::Tensor> crop_scores;  // per face model, [M]
  for (const auto& d : face_models) {
    nlohmann::json entry = {
        {"name", d.name()}, {"arch", d.arch()}, {"version", d.manifest().value("dfscan_version", "")},
        {"hash", d.hash()}, {"score", nullptr}, {"logits", nlohmann::json::array()}};
    if (!p.crops.empty()) {
      std::vector<at::Tensor> inputs;
      for (int64_t i = 0; i < p.crop_pixels.size(0); ++i) inputs.push_back(d.prepare(p.crop_pixels[i]));
      auto out = run_detector(d, inputs, options.batch);
      crop_scores.push_back(out.scores);
      std::map<int, std::pair<double, int>> per_track;
      for (size_t i = 0; i < p.crops.size(); ++i) {
        auto& acc = per_track[p.crops[i].track];
        acc.first += out.scores[i].item<double>();
        acc.second += 1;
      }
      double file_score = 0.0;
      if (options.aggregate == "genconvit-ref") {
        // The reference: element-wise sigmoid of both logits, averaged over every crop.
        auto m = torch::sigmoid(out.logits.to(torch::kDouble)).mean(0);
        const double fake = m[0].item<double>(), real = m[1].item<double>();
        file_score = fake > real ? fake : 1.0 - real;
      } else {
        for (const auto& [id, acc] : per_track) {
          const double s = acc.first / acc.second;
          file_score =
              options.aggregate == "max" ? std::max(file_score, s) : file_score + s / per_track.size();
        }
      }
      entry["score"] = file_score;
      entry["logits"] = to_json_list(out.logits);
      verdicts.push_back({file_score, threshold_of(d)});
    }
    if (d.arch() == "genconvit-vae") entry["vae_sampling"] = options.vae_sampling;
    detectors.push_back(std::move(entry));
  }

  // Whole-image detectors.
  for (const auto& d : image_models) {
    nlohmann::json entry = {
        {"name", d.name()}, {"arch", d.arch()}, {"version", d.manifest().value("dfscan_version", "")},
        {"hash", d.hash()}, {"score", nullptr}, {"logits", nlohmann::json::array()}};
    if (p.whole.defined()) {
      auto out = run_detector(d, {d.prepare(p.whole)}, 1);
      const double s = out.scores[0].item<double>();
      entry["score"] = s;
      entry["logits"] = to_json_list(out.logits[0]);
      verdicts.push_back({s, threshold_of(d)});
    }
    detectors.push_back(std::move(entry));
  }
  // Audio detectors: windows of the audio track.
  if (p.audio.decoded()) {
    auto a =
        scan_audio::score_audio(audio_models, p.audio, options.aggregate, options.batch, options.threshold);
    for (auto& e : a.detectors) detectors.push_back(std::move(e));
    // The audio model knows read speech against speech synthesisers; music and ambient sound are
    // outside what it learnt (a real stock clip's soundtrack scores 1.0). So in a video it reports
    // on the sound track without deciding the file, unless audio is all that was selected.
    const bool audio_decides = p.modality == "audio" || (face_models.empty() && image_models.empty());
    if (audio_decides) {
      for (const auto& v : a.verdicts) verdicts.push_back({v.score, v.threshold});
    } else if (!a.verdicts.empty()) {
      // The sound track's own verdict, by the same most-confident-detector rule as the file's.
      const auto& v = *std::max_element(
          a.verdicts.begin(), a.verdicts.end(),
          [](const auto& x, const auto& y) { return x.score - x.threshold < y.score - y.threshold; });
      a.audio["threshold"] = v.threshold;
      a.audio["label"] = v.score >= v.threshold ? "fake" : "real";
      a.audio["decides_verdict"] = false;
    }
    if (p.modality == "audio") record["timeline"] = a.audio["timeline"];
    record["audio"] = std::move(a.audio);
  }
  record["detectors"] = detectors;

  // Tracks, with the mean crop score over face models.
  if (!p.crops.empty()) {
    auto mean_scores = torch::stack(crop_scores).mean(0);
    std::map<int, nlohmann::json> tracks;
    std::map<int, std::pair<double, int>> track_acc;
    for (size_t i = 0; i < p.crops.size(); ++i) {
      const auto& c = p.crops[i];
      auto& t = tracks[c.track];
      if (t.is_null()) t = {{"id", c.track}, {"frames", nlohmann::json::array()}};
      const double s = mean_scores[i].item<double>();
      t["frames"].push_back(
          {{"t", c.t}, {"box", {c.box.x, c.box.y, c.box.width, c.box.height}}, {"score", s}});
      track_acc[c.track].first += s;
      track_acc[c.track].second += 1;
    }
    auto list = nlohmann::json::array();
    for (auto& [id, t] : tracks) {
      t["score"] = track_acc[id].first / track_acc[id].second;
      list.push_back(std::move(t));
    }
    record["tracks"] = list;
    // Timeline: mean crop score per fixed-length segment of the video.
    if (p.duration > 0 && options.segment_seconds > 0 && p.modality != "image") {
      const int segments = std::max(1, static_cast<int>(std::ceil(p.duration / options.segment_seconds)));
      auto timeline = nlohmann::json::array();
      for (int k = 0; k < segments; ++k) {
        const double start = k * options.segment_seconds;
        const double end = std::min(p.duration, start + options.segment_seconds);
        double sum = 0.0;
        int n = 0;
        for (size_t i = 0; i < p.crops.size(); ++i)
          if (p.crops[i].t >= start && (p.crops[i].t < end || k == segments - 1)) {
            sum += mean_scores[i].item<double>();
            ++n;
          }
        timeline.push_back({{"start", start},
                            {"end", end},
                            {"score", n ? nlohmann::json(sum / n) : nlohmann::json(nullptr)}});
      }
      record["timeline"] = timeline;
    }
  }

  if (verdicts.empty()) {
    record["status"] = face_models.empty() ? "not_scored" : "no_face";
    record["error"] = nullptr;
  } else {
    // Scored by the whole image or the sound alone: the face models, selected, saw no face.
    if (!face_models.empty() && p.crops.empty() && p.modality != "audio")
      record["warnings"].push_back("no_face");
    // The file takes the verdict of its most confident detector: fake when any detector says so.
    const auto& v = *std::max_element(
        verdicts.begin(), verdicts.end(),
        [](const Verdict& a, const Verdict& b) { return a.score - a.threshold < b.score - b.threshold; });
    record["score"] = v.score;
    record["threshold"] = v.threshold;
    record["label"] = v.score >= v.threshold ? "fake" : "real";
    record["aggregation"] = options.aggregate;
  }
  for (const auto& d : face_models)
    if (d.arch() == "genconvit-vae") record["vae_sampling"] = options.vae_sampling;
  record["timings_ms"]["infer"] = std::round(ms_since(t0));
  return record;
}

void Scanner::scan(const std::vector<std::string>& paths,
                   const std::function<void(std::size_t, const nlohmann::json&)>& on_record,
                   const std::atomic<bool>* cancel) {
  const auto& s = *impl_;
  ordered_pipeline<Prepared>(
      paths.size(), s.options.workers, static_cast<size_t>(s.options.workers) + 2,
      [&](std::size_t i) {
        Prepared p;
        try {
          p = s.prepare(paths[i]);
        } catch (const Error& e) {
          p.path = paths[i];
          p.status = e.status();
          p.message = e.what();
        } catch (const std::exception& e) {
          p.path = paths[i];
          p.status = Status::error;
          p.message = one_line(e.what());
        }
        return p;
      },
      [&](std::size_t i, Prepared&& p) {
        // A model or face detector that failed to load stops the run (outside the per-file catch).
        s.wait_loaded();
        s.wait_face_pool();
        auto start = Clock::now();
        const double before = p.decode_ms + p.faces_ms;
        nlohmann::json record;
        try {
          record = s.infer(std::move(p));
        } catch (const std::exception& e) {
          record = failure_record(paths[i], "error", one_line(e.what()));
        }
        record["timings_ms"]["total"] = std::round(before + ms_since(start));
        on_record(i, record);
      },
      cancel);
}

nlohmann::json Scanner::scan_one(const std::string& path) {
  nlohmann::json out;
  scan({path}, [&](std::size_t, const nlohmann::json& r) { out = r; });
  return out;
}

}  // namespace dfscan
