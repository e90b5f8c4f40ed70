// Issue 6 "Kill and resume": `dfscan train` SIGKILLed while writing a checkpoint resumes from the last
// complete one and ends bit-identical (same weights, same manifest hash) to an uninterrupted run.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "dfscan/config.hpp"
#include "dfscan/model_file.hpp"
#include "train_test_util.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kApp = fs::path(DFSCAN_BINARY_DIR) / "apps/dfscan/dfscan";

struct Run {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
};

Run run(const std::string& env, const std::string& args, const fs::path& dir) {
  const auto out = dir / "stdout.txt";
  const std::string cmd = "exec env " + env + " '" + kApp.string() + "' " + args + " > '" + out.string() +
                          "' 2>> '" + (dir / "stderr.txt").string() + "'";
  const int status = std::system(cmd.c_str());
  Run r;
  if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
    if (r.exit_code > 128) r.signal = r.exit_code - 128;  // a shell reporting its child's signal
  }
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  r.out = ss.str();
  return r;
}

std::string train_args(const fs::path& csv, const fs::path& dir, const std::string& tag) {
  return "train --arch npr --arch-config '{\"layers\":[1,1]}' --input-size 16 --data '" + csv.string() +
         "' --epochs 3 --batch 4 --optimizer adamw --lr 2e-3 --weight-decay 0.01 --augment default --workers "
         "2 "
         "--threads 1 --seed 5 --no-progress --name tiny -o '" +
         (dir / (tag + ".safetensors")).string() + "' --log '" + (dir / (tag + ".jsonl")).string() + "'";
}

std::vector<json> log_lines(const fs::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line);
    j.erase("seconds");
    out.push_back(j);
  }
  return out;
}

}  // namespace

TEST(TrainCli, KilledMidCheckpointResumesBitIdentical) {
  ASSERT_TRUE(fs::exists(kApp)) << kApp;
  dfscan::test::ScopedDir dir("cli");
  const auto csv = dfscan::test::write_tiny_csv(dir.path);

  const auto a = run("", train_args(csv, dir.path, "a"), dir.path);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  const auto summary_a = json::parse(a.out);
  EXPECT_FALSE(summary_a["resumed"].get<bool>());

  // Killed half-way through writing epoch 2's checkpoint.
  const auto killed = run("DFSCAN_TEST_KILL_AT=epoch:2:mid-write", train_args(csv, dir.path, "b"), dir.path);
  EXPECT_EQ(killed.signal, SIGKILL);
  const auto ckpt = dir.path / "b.safetensors.ckpt";
  EXPECT_TRUE(fs::exists(ckpt / "epoch-0001.ckpt"));
  EXPECT_FALSE(fs::exists(ckpt / "epoch-0002.ckpt"));
  bool torn = false;
  for (const auto& e : fs::directory_iterator(ckpt))
    torn |= e.path().filename().string().rfind("epoch-0002.ckpt.tmp.", 0) == 0;
  EXPECT_TRUE(torn) << "the kill hook should leave a half-written temporary";
  EXPECT_FALSE(fs::exists(dir.path / "b.safetensors"));

  const auto b = run("", train_args(csv, dir.path, "b") + " --resume", dir.path);
  ASSERT_EQ(b.exit_code, 0) << b.out;
  const auto summary_b = json::parse(b.out);
  EXPECT_TRUE(summary_b["resumed"].get<bool>());
  EXPECT_EQ(summary_b["hash"], summary_a["hash"]);
  EXPECT_EQ(summary_b["threshold"], summary_a["threshold"]);

  const auto ma = dfscan::io::read_model_file(dir.path / "a.safetensors");
  const auto mb = dfscan::io::read_model_file(dir.path / "b.safetensors");
  ASSERT_EQ(ma.tensors.keys(), mb.tensors.keys());
  for (const auto& [key, tensor] : ma.tensors) EXPECT_TRUE(torch::equal(tensor, mb.tensors.at(key))) << key;
  EXPECT_EQ(ma.manifest["arch"], "npr");
  EXPECT_NE(ma.manifest["threshold_source"].get<std::string>().find("validation split"), std::string::npos);
  EXPECT_EQ(ma.manifest["input"]["size"], 16);
  EXPECT_EQ(log_lines(dir.path / "a.jsonl"), log_lines(dir.path / "b.jsonl"));
}

TEST(TrainCli, OptionsComeFromTheEnvironmentBelowFlags) {
  ASSERT_TRUE(fs::exists(kApp)) << kApp;
  dfscan::test::ScopedDir dir("cli-env");
  const auto csv = dfscan::test::write_tiny_csv(dir.path);
  const std::string env =
      "DFSCAN_ARCH=npr DFSCAN_ARCH_CONFIG='{\"layers\":[1,1]}' DFSCAN_INPUT_SIZE=16 "
      "DFSCAN_EPOCHS=1 DFSCAN_BATCH=8 DFSCAN_OPTIMIZER=sgd DFSCAN_LR=0.01 DFSCAN_DATA='" +
      csv.string() + "'";
  const auto r =
      run(env, "train --batch 4 --threads 1 --no-progress -o '" + (dir.path / "m.safetensors").string() + "'",
          dir.path);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto m = dfscan::io::read_model_file(dir.path / "m.safetensors");
  const auto& opts = m.manifest["training"]["options"];
  EXPECT_EQ(opts["optimizer"], "sgd");
  EXPECT_EQ(opts["lr"], 0.01);
  EXPECT_EQ(opts["batch"], 4);  // the flag beats DFSCAN_BATCH
  EXPECT_EQ(opts["epochs"], 1);
  EXPECT_EQ(m.manifest["training"]["steps"], 4);
  // A usage error is 64.
  EXPECT_EQ(run("", "train --data x", dir.path).exit_code, 64);
}

TEST(TrainCli, AugmentListsSelectJpegAndRejectUnknownNames) {
  ASSERT_TRUE(fs::exists(kApp)) << kApp;
  dfscan::test::ScopedDir dir("cli-augment");
  const auto csv = dfscan::test::write_tiny_csv(dir.path);
  const std::string base = "train --arch npr --arch-config '{\"layers\":[1,1]}' --input-size 16 --data '" +
                           csv.string() + "' --epochs 1 --batch 4 --threads 1 --no-progress --log '" +
                           (dir.path / "log.jsonl").string() + "' -o '" +
                           (dir.path / "m.safetensors").string() + "'";
  EXPECT_EQ(run("", base + " --augment default,sharpen", dir.path).exit_code, 64);
  EXPECT_EQ(run("", base + " --augment jpeg=1.5", dir.path).exit_code, 64);
  EXPECT_EQ(run("", base + " --augment jpeg --jpeg-quality-min 0", dir.path).exit_code, 64);
  const auto r = run("", base + " --augment default,jpeg=1 --jpeg-quality-min 10", dir.path);
  if (!DFSCAN_WITH_MEDIA) {
    EXPECT_EQ(r.exit_code, 2) << "jpeg must fail clearly without the media build";
    return;
  }
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // The log's start record carries the augmentation recipe the run used.
  const auto start = log_lines(dir.path / "log.jsonl").front();
  EXPECT_EQ(start["options"]["augment"]["jpeg"], 1.0);
  EXPECT_EQ(start["options"]["augment"]["jpeg_quality_min"], 10);
  EXPECT_EQ(start["options"]["augment"]["flip"], 0.5);
}

TEST(TrainCli, ContinualIsTheContinualCommand) {
  ASSERT_TRUE(fs::exists(kApp)) << kApp;
  dfscan::test::ScopedDir dir("cli-continual");
  if (!DFSCAN_WITH_MEDIA) {
    // Continual training decodes audio: a build without media says so, not "unexpected --tasks",
    // and so does every other command that reads media, the default scan included.
    for (const std::string args : {"train --continual --tasks none.toml", "continual --help", "clip.mp4"}) {
      fs::remove(dir.path / "stderr.txt");
      EXPECT_EQ(run("", args, dir.path).exit_code, 2) << args;
      std::ifstream err(dir.path / "stderr.txt");
      const std::string message((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
      EXPECT_NE(message.find("needs the media build"), std::string::npos) << args << ": " << message;
    }
    return;
  }
  // `train --continual` takes the continual command's options (--tasks, --strategies) ...
  const auto help = run("", "train --continual --help", dir.path);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--strategies"), std::string::npos) << help.out;
  // ... and fails as it does on a missing task list, not as a usage error of `train`.
  const auto missing =
      run("", "train --continual --tasks '" + (dir.path / "none.toml").string() + "'", dir.path);
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
}

TEST(TrainCli, ContinualManifestErrorsNameTheLine) {
  if (!DFSCAN_WITH_MEDIA) GTEST_SKIP() << "continual training needs the media build";
  dfscan::test::ScopedDir dir("cli-continual-manifest");
  { std::ofstream(dir.path / "tasks.toml") << "manifest = \"manifest.csv\"\ntasks = [\"a\"]\n"; }
  const auto stderr_after = [&](const std::string& manifest) {
    std::ofstream(dir.path / "manifest.csv") << manifest;
    fs::remove(dir.path / "stderr.txt");
    const auto r = run("", "continual --tasks '" + (dir.path / "tasks.toml").string() + "'", dir.path);
    EXPECT_EQ(r.exit_code, 2);
    std::ifstream err(dir.path / "stderr.txt");
    return std::string((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  };
  const auto manifest = (dir.path / "manifest.csv").string();
  // Columns are found by name; a header without task says so.
  EXPECT_NE(stderr_after("path,label,split\nx.wav,real,train\n")
                .find(manifest + ":1: the header must name path, label, task and split"),
            std::string::npos);
  EXPECT_NE(stderr_after("path,label,task,split\r\n\"x.wav,real,a,train\r\n")
                .find(manifest + ":2: unterminated quoted field"),
            std::string::npos);
  EXPECT_NE(
      stderr_after("path,label,task,split\nx.wav,real,a\n").find(manifest + ":2: expected 4 fields, found 3"),
      std::string::npos);
}

TEST(TrainCli, ContinualTaskListIsReadWhole) {
  if (!DFSCAN_WITH_MEDIA) GTEST_SKIP() << "continual training needs the media build";
  dfscan::test::ScopedDir dir("cli-continual-tasks");
  // Rows for tasks a and b; no audio is decoded before the task list is checked against them.
  std::ofstream(dir.path / "manifest.csv")
      << "path,label,task,split\nx.wav,real,a,train\ny.wav,fake,b,test\n";
  const auto tasks = (dir.path / "tasks.toml").string();
  const auto stderr_after = [&](const std::string& task_list) {
    std::ofstream(dir.path / "tasks.toml") << task_list;
    fs::remove(dir.path / "stderr.txt");
    EXPECT_EQ(run("", "continual --tasks '" + tasks + "'", dir.path).exit_code, 2) << task_list;
    std::ifstream err(dir.path / "stderr.txt");
    return std::string((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  };
  // An array over several lines, with comments: its last task, a typo, is found and named.
  const auto typo = stderr_after(
      "# benchmark\nmanifest = \"manifest.csv\"  # beside\ntasks = [\n  \"a\",\n  \"a+b\",  # joint\n  "
      "\"zz\",\n]\n");
  EXPECT_NE(typo.find(tasks + ": task 'zz' has no rows in"), std::string::npos) << typo;
  // What it cannot read is an error naming the line, never a line skipped in silence.
  const auto unknown = stderr_after("manifest = \"manifest.csv\"\ntasks = [\"a\"]\nepochs = 3\n");
  EXPECT_NE(unknown.find(tasks + ":3: unknown key 'epochs'"), std::string::npos) << unknown;
  const auto open = stderr_after("manifest = \"manifest.csv\"\ntasks = [\"a\",\n  \"b\"\n");
  EXPECT_NE(open.find("the tasks array is not closed"), std::string::npos) << open;
  const auto stray = stderr_after("manifest = \"manifest.csv\"\ntasks = [\"a\"]\n\"b\"\n");
  EXPECT_NE(stray.find(tasks + ":3: expected key = value"), std::string::npos) << stray;
}

TEST(TrainCli, ContinualLeavesOutAudioItCannotDecode) {
  if (!DFSCAN_WITH_MEDIA) GTEST_SKIP() << "continual training needs the media build";
  if (std::system("ffmpeg -version > /dev/null 2>&1") != 0) GTEST_SKIP() << "no ffmpeg";
  dfscan::test::ScopedDir dir("cli-continual-unreadable");
  std::ofstream manifest(dir.path / "manifest.csv");
  manifest << "path,label,task,split\n";
  for (int i = 1; i <= 6; ++i) {
    const auto real = dir.path / ("real" + std::to_string(i) + ".wav");
    const auto fake = dir.path / ("fake" + std::to_string(i) + ".wav");
    ASSERT_EQ(std::system(("ffmpeg -loglevel error -f lavfi -i sine=frequency=" + std::to_string(200 * i) +
                           ":duration=2 -ar 16000 '" + real.string() +
                           "' && ffmpeg -loglevel error -f lavfi -i "
                           "anoisesrc=d=2:c=pink:seed=" +
                           std::to_string(i) + " -ar 16000 '" + fake.string() + "'")
                              .c_str()),
              0);
    const char* split = i <= 4 ? "train" : "test";
    manifest << real.string() << ",real,a," << split << "\n" << fake.string() << ",fake,a," << split << "\n";
  }
  std::ofstream(dir.path / "broken.wav") << "not audio";
  manifest << (dir.path / "broken.wav").string() << ",fake,a,train\n";
  manifest.close();
  std::ofstream(dir.path / "tasks.toml")
      << "manifest = \"" << (dir.path / "manifest.csv").string() << "\"\ntasks = [\"a\"]\n";
  const auto out = dir.path / "out.json";
  const auto r =
      run("",
          "continual --tasks '" + (dir.path / "tasks.toml").string() +
              "' --strategies finetune --seeds 0 --epochs 1 --model stats-mlp --json '" + out.string() + "'",
          dir.path);
  // The run trains on what it could decode, lists the rest, and exits 2 as a scan with a broken file does.
  EXPECT_EQ(r.exit_code, 2);
  ASSERT_TRUE(fs::exists(out));
  std::ifstream in(out);
  const auto doc = json::parse(in);
  EXPECT_EQ(doc["unreadable_files"]["count"], 1);
  EXPECT_EQ(doc["unreadable_files"]["files"][0]["path"], (dir.path / "broken.wav").string());
  EXPECT_EQ(doc["unreadable_files"]["files"][0]["status"], "unsupported");
  EXPECT_EQ(doc["runs"].size(), 1u);
}
