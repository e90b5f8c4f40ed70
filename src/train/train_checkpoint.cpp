#include "train/train_checkpoint.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <regex>
#include <sstream>

#include "dfscan/atomic_file.hpp"
#include "dfscan/status.hpp"

namespace dfscan::train {
namespace fs = std::filesystem;

fs::path checkpoint_path(const fs::path& dir, int epoch) {
  char name[32];
  std::snprintf(name, sizeof name, "epoch-%04d.ckpt", epoch);
  return dir / name;
}

namespace {

// Epoch number whose checkpoint write should be interrupted, from DFSCAN_TEST_KILL_AT.
std::optional<int> kill_epoch() {
  const char* env = std::getenv("DFSCAN_TEST_KILL_AT");
  if (!env) return std::nullopt;
  static const std::regex pattern(R"(epoch:(\d+):mid-write)");
  std::cmatch m;
  if (!std::regex_match(env, m, pattern)) return std::nullopt;
  return std::stoi(m[1].str());
}

void write_all(int fd, const char* p, size_t n, const fs::path& tmp) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(Status::error, "cannot write " + tmp.string());
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void write_with_hook(const fs::path& path, const std::string& bytes, int epoch) {
  const auto tmp = temp_path_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(Status::error, "cannot create " + tmp.string());
  const auto kill_at = kill_epoch();
  if (kill_at && *kill_at == epoch) {
    write_all(fd, bytes.data(), bytes.size() / 2, tmp);
    ::fsync(fd);
    std::raise(SIGKILL);
  }
  write_all(fd, bytes.data(), bytes.size(), tmp);
  if (::close(fd) != 0) throw Error(Status::error, "cannot close " + tmp.string());
  commit_temp_file(tmp, path);
}

int epoch_of(const fs::path& path) {
  static const std::regex pattern(R"(epoch-(\d+)\.ckpt)");
  std::smatch m;
  const auto name = path.filename().string();
  return std::regex_match(name, m, pattern) ? std::stoi(m[1].str()) : -1;
}

at::Generator cpu_generator() {
  return at::detail::getDefaultCPUGenerator();
}

}  // namespace

void save_checkpoint(const fs::path& path, torch::nn::Module& net, torch::optim::Optimizer& optimizer,
                     const nlohmann::json& meta) {
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  net.save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  {
    auto gen = cpu_generator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("rng_cpu", gen.get_state(), /*is_buffer=*/true);
  }
  archive.write("meta", c10::IValue(meta.dump()));
  std::ostringstream out;
  archive.save_to(out);
  write_with_hook(path, out.str(), epoch_of(path));
}

std::optional<fs::path> latest_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  std::optional<fs::path> best;
  int best_epoch = -1;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    if (name.find(".tmp.") != std::string::npos) {
      stale.push_back(entry.path());
      continue;
    }
    const int e = epoch_of(entry.path());
    if (e > best_epoch) {
      best_epoch = e;
      best = entry.path();
    }
  }
  for (const auto& p : stale) fs::remove(p, ec);
  return best;
}

nlohmann::json load_checkpoint(const fs::path& path, torch::nn::Module& net,
                               torch::optim::Optimizer& optimizer) {
  try {
    torch::serialize::InputArchive archive, model_archive, optimizer_archive;
    archive.load_from(path.string());
    archive.read("model", model_archive);
    archive.read("optimizer", optimizer_archive);
    c10::IValue meta;
    archive.read("meta", meta);
    at::Tensor rng;
    archive.read("rng_cpu", rng, /*is_buffer=*/true);
    net.load(model_archive);
    optimizer.load(optimizer_archive);
    auto gen = cpu_generator();
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(rng);
    }
    return nlohmann::json::parse(meta.toStringRef());
  } catch (const c10::Error& e) {
    throw Error(Status::error, "cannot resume from " + path.string() + ": " + one_line(e.what()));
  } catch (const nlohmann::json::exception& e) {
    throw Error(Status::error, "cannot resume from " + path.string() + ": " + one_line(e.what()));
  }
}

void save_weights(const fs::path& path, torch::nn::Module& net) {
  torch::serialize::OutputArchive archive;
  net.save(archive);
  std::ostringstream out;
  archive.save_to(out);
  write_file_atomic(path, out.str());
}

void load_weights(const fs::path& path, torch::nn::Module& net) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path.string());
    net.load(archive);
  } catch (const c10::Error& e) {
    throw Error(Status::error, "cannot read " + path.string() + ": " + one_line(e.what()));
  }
}

}  // namespace dfscan::train
