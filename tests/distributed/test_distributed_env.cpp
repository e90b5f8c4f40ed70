// Reading torchrun's and Slurm's variables into a rank and a rendezvous (no process group needed).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "dfscan/status.hpp"
#include "train/distributed.hpp"

using dfscan::train::DistributedEnv;
using dfscan::train::read_distributed_env;

namespace {

using Vars = std::map<std::string, std::string>;

std::optional<DistributedEnv> read(const Vars& vars) {
  return read_distributed_env([&](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

// The message of the dfscan::Error that reading `vars` throws ("" when it does not throw).
std::string error_of(const Vars& vars) {
  try {
    (void)read(vars);
  } catch (const dfscan::Error& e) {
    return e.what();
  }
  return "";
}

const Vars kTorchrun = {{"RANK", "3"},
                        {"WORLD_SIZE", "4"},
                        {"LOCAL_RANK", "1"},
                        {"MASTER_ADDR", "10.0.0.7"},
                        {"MASTER_PORT", "29400"},
                        {"LOCAL_WORLD_SIZE", "2"}};

const Vars kSlurm = {{"SLURM_PROCID", "5"},      {"SLURM_NTASKS", "8"},
                     {"SLURM_LOCALID", "1"},     {"SLURM_LAUNCH_NODE_IPADDR", "10.1.2.3"},
                     {"SLURM_JOB_ID", "123456"}, {"SLURM_JOB_NODELIST", "gpu[01-02]"}};

}  // namespace

TEST(DistributedEnv, NoLauncherMeansSingleProcess) {
  EXPECT_FALSE(read({}).has_value());
  EXPECT_FALSE(read({{"PATH", "/usr/bin"}, {"MASTER_ADDR", "x"}, {"LOCAL_RANK", "0"}}).has_value());
}

TEST(DistributedEnv, TorchrunVariables) {
  const auto env = read(kTorchrun);
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->launcher, "torchrun");
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->master_addr, "10.0.0.7");
  EXPECT_EQ(env->master_port, 29400);
  EXPECT_FALSE(env->agent_store);
}

TEST(DistributedEnv, TorchrunAgentStore) {
  auto vars = kTorchrun;
  vars["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  vars["TORCHELASTIC_RESTART_COUNT"] = "2";
  const auto env = read(vars);
  ASSERT_TRUE(env.has_value());
  EXPECT_TRUE(env->agent_store);
  EXPECT_EQ(env->restart_count, 2);
  vars["TORCHELASTIC_USE_AGENT_STORE"] = "False";
  EXPECT_FALSE(read(vars)->agent_store);
}

TEST(DistributedEnv, SlurmVariables) {
  const auto env = read(kSlurm);
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->launcher, "slurm");
  EXPECT_EQ(env->rank, 5);
  EXPECT_EQ(env->world_size, 8);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->master_addr, "10.1.2.3");
  EXPECT_EQ(env->master_port, 20000 + 123456 % 20000);  // one port per job
}

TEST(DistributedEnv, SlurmMasterFromEnvironmentWins) {
  auto vars = kSlurm;
  vars["MASTER_ADDR"] = "gpu01";
  vars["MASTER_PORT"] = "31000";
  const auto env = read(vars);
  EXPECT_EQ(env->master_addr, "gpu01");
  EXPECT_EQ(env->master_port, 31000);
  vars.erase("SLURM_NTASKS");
  vars["SLURM_NPROCS"] = "8";  // the older name
  EXPECT_EQ(read(vars)->world_size, 8);
}

TEST(DistributedEnv, TorchrunInsideSlurmUsesTorchrun) {
  auto vars = kSlurm;
  for (const auto& [k, v] : kTorchrun) vars[k] = v;
  const auto env = read(vars);
  EXPECT_EQ(env->launcher, "torchrun");
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->world_size, 4);
}

TEST(DistributedEnv, OneProcessNeedsNoRendezvous) {
  const auto env = read({{"RANK", "0"}, {"WORLD_SIZE", "1"}});
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->world_size, 1);
  // A batch job outside srun: Slurm sets SLURM_PROCID=0, SLURM_NTASKS=1 and nothing else.
  EXPECT_EQ(read({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}})->world_size, 1);
}

TEST(DistributedEnv, AWorldOfOneKeepsTheRendezvousItWasGiven) {
  // Optional for one process, but `--distributed on` uses them to join a group of one.
  const auto env =
      read({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29511"}});
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->master_addr, "127.0.0.1");
  EXPECT_EQ(env->master_port, 29511);
  EXPECT_EQ(env->local_rank, 0);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_PORT", "http"}}).find("MASTER_PORT"),
            std::string::npos);
}

TEST(DistributedEnv, MissingVariablesAreNamed) {
  EXPECT_NE(error_of({{"RANK", "0"}}).find("WORLD_SIZE"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}}).find("RANK"), std::string::npos);

  const auto all = error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}});
  for (const char* name : {"LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"})
    EXPECT_NE(all.find(name), std::string::npos) << all;
  auto vars = kTorchrun;
  vars.erase("MASTER_PORT");
  const auto port = error_of(vars);
  EXPECT_NE(port.find("MASTER_PORT"), std::string::npos) << port;
  EXPECT_EQ(port.find("MASTER_ADDR"), std::string::npos) << port;
  vars = kTorchrun;
  vars["MASTER_ADDR"] = "";  // empty counts as unset
  EXPECT_NE(error_of(vars).find("MASTER_ADDR"), std::string::npos);

  EXPECT_NE(error_of({{"SLURM_PROCID", "0"}}).find("SLURM_NTASKS"), std::string::npos);
  auto slurm = kSlurm;
  slurm.erase("SLURM_LAUNCH_NODE_IPADDR");
  const auto master = error_of(slurm);
  EXPECT_NE(master.find("MASTER_ADDR"), std::string::npos) << master;
  slurm = kSlurm;
  slurm.erase("SLURM_LOCALID");
  EXPECT_NE(error_of(slurm).find("SLURM_LOCALID"), std::string::npos);
}

TEST(DistributedEnv, MalformedValuesAreRejected) {
  auto with = [](const std::string& name, const std::string& value) {
    auto vars = kTorchrun;
    vars[name] = value;
    return error_of(vars);
  };
  EXPECT_NE(with("RANK", "one").find("RANK='one'"), std::string::npos);
  EXPECT_NE(with("RANK", "4").find("not below WORLD_SIZE"), std::string::npos);
  EXPECT_NE(with("RANK", "-1").find("RANK"), std::string::npos);
  EXPECT_NE(with("WORLD_SIZE", "0").find("at least 1"), std::string::npos);
  EXPECT_NE(with("MASTER_PORT", "70000").find("MASTER_PORT"), std::string::npos);
  EXPECT_NE(with("MASTER_PORT", "0").find("MASTER_PORT"), std::string::npos);
  EXPECT_NE(with("MASTER_PORT", "29500x").find("MASTER_PORT"), std::string::npos);
  EXPECT_NE(with("LOCAL_RANK", "1.5").find("LOCAL_RANK"), std::string::npos);
  EXPECT_EQ(with("RANK", "0"), "");
}

TEST(DistributedEnv, ModesOfTheTrainer) {
  c10::Device device(c10::kCPU);
  EXPECT_EQ(dfscan::train::join_data_parallel("off", "cpu", device), nullptr);
  EXPECT_THROW((void)dfscan::train::join_data_parallel("always", "cpu", device), dfscan::Error);
  // "on" needs a launcher's variables; this test process has none.
  if (std::getenv("RANK") == nullptr && std::getenv("WORLD_SIZE") == nullptr &&
      std::getenv("SLURM_PROCID") == nullptr) {
    try {
      (void)dfscan::train::join_data_parallel("on", "cpu", device);
      ADD_FAILURE() << "--distributed on joined without a launcher";
    } catch (const dfscan::Error& e) {
      EXPECT_NE(std::string(e.what()).find("launcher"), std::string::npos) << e.what();
    }
  }
  if (!dfscan::train::distributed_built()) {
    // Launched as one of several ranks by a build without c10d: a clear error, not N lone trainings.
    DistributedEnv env;
    env.rank = 1;
    env.world_size = 2;
    try {
      (void)dfscan::train::DataParallel::join(env, device);
      ADD_FAILURE() << "join succeeded without c10d";
    } catch (const dfscan::Error& e) {
      EXPECT_NE(std::string(e.what()).find("DFSCAN_WITH_DISTRIBUTED"), std::string::npos) << e.what();
    }
  }
}
