#include <torch/torch.h>

#include <mutex>
#include <unordered_map>

#include "dfscan/checkpoint.hpp"
#include "dfscan/config.hpp"
#include "dfscan/dataset.hpp"
#include "dfscan/status.hpp"
#if DFSCAN_WITH_MEDIA
#include "dfscan/media.hpp"
#endif

namespace dfscan::data {

namespace {
// "DIR/x.pth#12" -> ("DIR/x.pth", 12); nullopt for ordinary paths.
std::optional<std::pair<std::string, int64_t>> parse_shard_ref(const std::string& path) {
  const auto hash = path.rfind('#');
  if (hash == std::string::npos || hash + 1 == path.size()) return std::nullopt;
  const auto file = path.substr(0, hash);
  if (file.size() < 4 || file.compare(file.size() - 4, 4, ".pth") != 0) return std::nullopt;
  int64_t row = 0;
  for (size_t i = hash + 1; i < path.size(); ++i) {
    if (path[i] < '0' || path[i] > '9') return std::nullopt;
    row = row * 10 + (path[i] - '0');
  }
  return std::make_pair(file, row);
}
}  // namespace

struct SampleReader::Impl {
  std::mutex mutex;
  std::unordered_map<std::string, at::Tensor> shards;

  at::Tensor shard(const std::string& file) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = shards.find(file);
    if (it != shards.end()) return it->second;
    auto state = io::read_pth(file);
    const auto* images = state.find("images");
    if (!images) throw Error(Status::error, file + ": shard has no 'images' tensor");
    if (images->dim() != 4 || images->size(3) != 3 || images->scalar_type() != at::kByte)
      throw Error(Status::error, file + ": shard 'images' must be uint8 [N,H,W,3]");
    return shards.emplace(file, images->contiguous()).first->second;
  }
};

SampleReader::SampleReader() : impl_(std::make_unique<Impl>()) {}
SampleReader::~SampleReader() = default;

at::Tensor SampleReader::read(const Sample& sample) const {
  if (auto ref = parse_shard_ref(sample.path)) {
    auto images = impl_->shard(ref->first);
    if (ref->second >= images.size(0))
      throw Error(Status::error,
                  sample.path + ": row out of range (shard has " + std::to_string(images.size(0)) + " rows)");
    return images[ref->second].clone();
  }
#if DFSCAN_WITH_MEDIA
  auto image = media::read_image(sample.path);
  if (image.status != Status::ok) throw Error(image.status, sample.path + ": " + image.message);
  // Training data must be whole: the rows a decoder made up would be learnt as real or fake.
  if (!image.warnings.empty())
    throw Error(Status::truncated,
                sample.path + ": the image data ends early (" + image.warnings.front() + ")");
  const auto& m = image.rgb;
  auto view = torch::from_blob(const_cast<uint8_t*>(m.ptr<uint8_t>()), {m.rows, m.cols, 3},
                               {static_cast<int64_t>(m.step[0]), 3, 1}, torch::kUInt8);
  return view.clone();
#else
  throw Error(Status::unsupported,
              sample.path + ": this build has no image decoding (DFSCAN_WITH_MEDIA=OFF); use tensor shards");
#endif
}

}  // namespace dfscan::data
