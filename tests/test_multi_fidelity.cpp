// Multi-fidelity search: the schedules' promotions, training in installments, and the asha,
// hyperband and successive_halving methods end to end.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "datasets/dataset.hpp"
#include "evaluators/train_evaluator.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "strategies/asha.hpp"
#include "strategies/hyperband.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

// Candidates "c0", "c1", ... with a fitness the test chooses per candidate.
CandidateSampler numbered_candidates(int limit = 1000) {
  auto next = std::make_shared<int>(0);
  return [next, limit](Rng&) { return *next < limit ? "c" + std::to_string((*next)++) : std::string(); };
}
double quality(const std::string& arch) { return std::stod(arch.substr(1)); }  // c7 beats c3

TEST(FidelityRungs, EachRungReductionTimesShorterThanTheNext) {
  EXPECT_EQ(fidelity_rungs(1, 9, 3), (std::vector<std::int64_t>{1, 3, 9}));
  EXPECT_EQ(fidelity_rungs(1, 8, 2), (std::vector<std::int64_t>{1, 2, 4, 8}));
  EXPECT_EQ(fidelity_rungs(2, 20, 3), (std::vector<std::int64_t>{2, 7, 20}));
  EXPECT_EQ(fidelity_rungs(4, 4, 3), (std::vector<std::int64_t>{4}));
  EXPECT_ERROR(fidelity_rungs(0, 9, 3), "min_epochs must be at least 1");
  EXPECT_ERROR(fidelity_rungs(5, 4, 3), "max_epochs must be at least min_epochs");
  EXPECT_ERROR(fidelity_rungs(1, 9, 1), "reduction must be above 1");
}

TEST(SuccessiveHalving, PromotesTheBestThirdOfEachCompleteRung) {
  SuccessiveHalving bracket({1, 3, 9}, 0, 9, 3, numbered_candidates());
  Rng rng(1);
  std::vector<FidelityJob> jobs;
  for (int i = 0; i < 9; ++i) jobs.push_back(*bracket.next(rng));
  // The rung waits for every result before anyone moves up.
  EXPECT_FALSE(bracket.next(rng));
  for (int i = 0; i < 8; ++i) bracket.tell(jobs[i].id, quality(jobs[i].arch));
  EXPECT_FALSE(bracket.next(rng));
  bracket.tell(jobs[8].id, std::nullopt);  // a failed candidate never continues
  std::set<std::string> promoted;
  for (int i = 0; i < 3; ++i) {
    const FidelityJob job = *bracket.next(rng);
    EXPECT_EQ(job.rung, 1u);
    EXPECT_EQ(job.epochs, 3);
    ASSERT_TRUE(job.continues);
    EXPECT_EQ(jobs[static_cast<std::size_t>(*job.continues)].arch, job.arch);  // continues its own rung-0 training
    EXPECT_EQ(job.origin, *job.continues);
    promoted.insert(job.arch);
    jobs.push_back(job);
  }
  EXPECT_EQ(promoted, (std::set<std::string>{"c5", "c6", "c7"}));
  EXPECT_FALSE(bracket.next(rng));
  for (std::size_t i = 9; i < 12; ++i) bracket.tell(jobs[i].id, quality(jobs[i].arch));
  const FidelityJob last = *bracket.next(rng);
  EXPECT_EQ(last.arch, "c7");
  EXPECT_EQ(last.epochs, 9);
  EXPECT_EQ(last.id, 12);
  bracket.tell(last.id, 99);
  EXPECT_TRUE(bracket.finished());
  EXPECT_FALSE(bracket.next(rng));
}

TEST(SuccessiveHalving, ASpaceWithFewerCandidatesEndsTheRungWithThoseItHas) {
  SuccessiveHalving bracket({1, 3}, 0, 9, 3, numbered_candidates(2));
  Rng rng(1);
  const FidelityJob a = *bracket.next(rng), b = *bracket.next(rng);
  EXPECT_FALSE(bracket.next(rng));
  bracket.tell(a.id, 1);
  bracket.tell(b.id, 2);
  const FidelityJob promoted = *bracket.next(rng);
  EXPECT_EQ(promoted.arch, "c1");
  bracket.tell(promoted.id, 3);
  EXPECT_TRUE(bracket.finished());
}

// Hyperband's brackets for 3 rungs and reduction 3 (Li et al. 2018, Table 1's shape): 9 candidates
// from 1 epoch, 5 from 3, 3 from 9; 22 jobs in all when every result is told.
TEST(Hyperband, RunsEveryBracketWithThePapersCounts) {
  Hyperband hyperband({1, 3, 9}, 3, numbered_candidates());
  EXPECT_EQ(hyperband.bracket_sizes(), (std::vector<std::size_t>{9, 5, 3}));
  Rng rng(2);
  std::map<std::size_t, int> per_rung;
  std::int64_t expected_id = 0;
  for (int guard = 0; guard < 100 && !hyperband.finished(); ++guard) {
    std::vector<FidelityJob> batch;
    while (auto job = hyperband.next(rng)) batch.push_back(*job);
    ASSERT_FALSE(batch.empty());
    for (const FidelityJob& job : batch) {
      EXPECT_EQ(job.id, expected_id++);
      ++per_rung[job.rung];
      hyperband.tell(job.id, quality(job.arch));
    }
  }
  EXPECT_TRUE(hyperband.finished());
  EXPECT_EQ(expected_id, 22);
  EXPECT_EQ(per_rung, (std::map<std::size_t, int>{{0, 9}, {1, 8}, {2, 5}}));
}

// Hyperband repeated: the second pass runs the same brackets with new candidates; with passes 0
// it never ends by itself, yet stops once the space has nothing new.
TEST(Hyperband, RepeatsItsBracketsForEveryPass) {
  const auto run = [](Hyperband& hyperband, int max_jobs) {
    Rng rng(2);
    std::map<std::size_t, int> per_rung;
    int jobs = 0;
    for (int guard = 0; guard < 1000 && !hyperband.finished() && jobs < max_jobs; ++guard) {
      std::vector<FidelityJob> batch;
      while (auto job = hyperband.next(rng)) batch.push_back(*job);
      if (batch.empty()) break;
      for (const FidelityJob& job : batch) {
        ++jobs;
        ++per_rung[job.rung];
        hyperband.tell(job.id, quality(job.arch));
      }
    }
    return per_rung;
  };
  Hyperband twice({1, 3, 9}, 3, numbered_candidates(), 2);
  EXPECT_EQ(run(twice, 1000), (std::map<std::size_t, int>{{0, 18}, {1, 16}, {2, 10}}));
  EXPECT_TRUE(twice.finished());

  Hyperband endless({1, 3, 9}, 3, numbered_candidates(), 0);
  const auto per_rung = run(endless, 100);
  EXPECT_FALSE(endless.finished());
  EXPECT_GE(per_rung.at(0) + per_rung.at(1) + per_rung.at(2), 100);

  Hyperband small_space({1, 3, 9}, 3, numbered_candidates(20), 0);
  run(small_space, 1000);
  EXPECT_TRUE(small_space.finished()) << "20 candidates, then nothing new to start";
}

TEST(Asha, PromotesOnlyFromTheTopThirdOfTheResultsSoFar) {
  Asha asha({1, 3, 9}, 3, numbered_candidates());
  Rng rng(3);
  // Fewer than 3 results at rung 0: nobody is in its top third, so new candidates start.
  const FidelityJob a = *asha.next(rng);
  asha.tell(a.id, 5);
  const FidelityJob b = *asha.next(rng);
  asha.tell(b.id, 1);
  const FidelityJob c = *asha.next(rng);
  EXPECT_EQ(c.rung, 0u);
  EXPECT_FALSE(c.continues);
  asha.tell(c.id, std::nullopt);
  // Three results: the best (a) moves up, continuing its own training.
  const FidelityJob promoted = *asha.next(rng);
  EXPECT_EQ(promoted.arch, a.arch);
  EXPECT_EQ(promoted.rung, 1u);
  EXPECT_EQ(promoted.continues, a.id);
  // a is promoted already and the rest are below the top third: a new candidate, not a waiting one.
  const FidelityJob d = *asha.next(rng);
  EXPECT_EQ(d.rung, 0u);
  EXPECT_FALSE(d.continues);
}

TEST(Asha, NeverPromotesAFailedCandidate) {
  Asha asha({1, 3}, 2, numbered_candidates());
  Rng rng(4);
  for (int i = 0; i < 4; ++i) asha.tell(asha.next(rng)->id, std::nullopt);
  EXPECT_EQ(asha.next(rng)->rung, 0u);
}

// The endgame: once the budget left cannot carry a new candidate to 9 epochs, the best unpromoted
// result that can still reach the top continues, even outside its rung's top third, and the epochs
// it will need are held for it while it trains.
TEST(Asha, SpendsTheLastEpochsOnCandidatesThatCanStillFinish) {
  Asha asha({1, 3, 9}, 3, numbered_candidates(), true);
  Rng rng(5);
  asha.set_epochs_left(100);
  const FidelityJob a = *asha.next(rng), b = *asha.next(rng), c = *asha.next(rng);
  asha.tell(a.id, 5);
  asha.tell(b.id, 1);
  asha.tell(c.id, 3);
  const FidelityJob a1 = *asha.next(rng);  // the top third of rung 0
  EXPECT_EQ(a1.arch, a.arch);
  asha.tell(a1.id, 4);
  // 8 epochs left: not enough for a new candidate's 9. a is the only rung-1 result (no top third
  // yet): it goes on to the top.
  asha.set_epochs_left(8);
  const FidelityJob a2 = *asha.next(rng);
  EXPECT_EQ(a2.arch, a.arch);
  EXPECT_EQ(a2.rung, 2u);
  EXPECT_EQ(a2.continues, a1.id);
  // 2 left: too few to carry c (best unpromoted at rung 0) to the top, which takes 8.
  asha.set_epochs_left(2);
  EXPECT_FALSE(asha.next(rng));
  EXPECT_FALSE(asha.finished()) << "a is still training";
  asha.tell(a2.id, 6);
  EXPECT_FALSE(asha.next(rng));
  EXPECT_TRUE(asha.finished());

  // Rung 0 holds w 0, x 1, z 2 and y 3; y moves up (the top quarter) and is still training when only
  // 8 epochs are left: z, outside the top, goes up rather than x, and its way to the top is held.
  Asha other({1, 3, 9}, 3, numbered_candidates(), true);
  other.set_epochs_left(100);
  std::map<std::string, double> first_results;
  std::vector<FidelityJob> firsts;
  for (int i = 0; i < 4; ++i) firsts.push_back(*other.next(rng));
  for (int i = 0; i < 4; ++i) {
    first_results[firsts[i].arch] = i;
    other.tell(firsts[i].id, i);
  }
  const FidelityJob y1 = *other.next(rng);
  EXPECT_EQ(first_results[y1.arch], 3.0);
  other.set_epochs_left(8);
  const FidelityJob z1 = *other.next(rng);
  EXPECT_EQ(first_results[z1.arch], 2.0);
  EXPECT_EQ(z1.rung, 1u);
  other.set_epochs_left(6);  // z1's 2 epochs spent, its further 6 held: nothing else fits
  EXPECT_FALSE(other.next(rng));
  other.tell(y1.id, 5);
  other.tell(z1.id, 4);
  // Both have rung-1 results now; the better one takes the 6 epochs to the top.
  const FidelityJob top = *other.next(rng);
  EXPECT_EQ(top.arch, y1.arch);
  EXPECT_EQ(top.rung, 2u);

  // Without the endgame ASHA starts new candidates however little is left.
  Asha plain({1, 3, 9}, 3, numbered_candidates(), false);
  plain.set_epochs_left(1);
  EXPECT_EQ(plain.next(rng)->rung, 0u);
}

// Training 1, then 3, then 9 epochs in installments gives the network training 9 epochs straight
// does: a promotion loses nothing by continuing, and a lost state only costs time.
TEST(TrainInstallments, ContinuingEqualsTrainingStraightThrough) {
  SyntheticOptions data;
  data.shape = {1, 8, 8};
  data.classes = 3;
  data.train = 96;
  data.val = 48;
  data.test = 16;
  data.seed = 3;
  TrainEvaluator::Options options;
  options.training.batch_size = 32;
  options.training.lr = 0.05;
  options.training.loader_threads = 0;
  options.test = false;
  options.latency = false;
  TrainEvaluator evaluator(make_synthetic(data), options);
  const Nb201Space space(4, 1);
  const std::string arch = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|";

  std::string straight_state;
  const Evaluation straight = evaluator.evaluate_for(space, arch, 11, 9, 9, "", straight_state);
  std::string state1, state3, state9;
  const Evaluation first = evaluator.evaluate_for(space, arch, 11, 1, 9, "", state1);
  const Evaluation second = evaluator.evaluate_for(space, arch, 11, 3, 9, state1, state3);
  const Evaluation third = evaluator.evaluate_for(space, arch, 11, 9, 9, state3, state9);
  ASSERT_TRUE(straight.ok && first.ok && second.ok && third.ok) << straight.error << first.error << second.error << third.error;
  EXPECT_EQ(first.metrics.at("epochs"), 1);
  EXPECT_EQ(second.metrics.at("epochs"), 3);
  EXPECT_EQ(third.metrics.at("epochs"), 9);
  EXPECT_EQ(third.metrics.at("val_acc"), straight.metrics.at("val_acc"));
  EXPECT_EQ(third.metrics.at("val_loss"), straight.metrics.at("val_loss"));
  EXPECT_EQ(third.metrics.at("train_loss"), straight.metrics.at("train_loss"));
  EXPECT_NE(first.metrics.at("val_loss"), straight.metrics.at("val_loss"));
  // Each installment is charged its own epochs only.
  EXPECT_LT(second.cost, straight.cost);

  TrainEvaluator::Options by_steps = options;
  by_steps.training.steps = 10;
  std::string unused;
  EXPECT_ERROR(TrainEvaluator(make_synthetic(data), by_steps).evaluate_for(space, arch, 1, 1, 3, "", unused), "counts training in epochs");
}

class MultiFidelitySearch : public ScratchDirTest {
 protected:
  static constexpr const char* kConfig = R"(
seed: 3
space: {name: nb201, channels: 4, cells_per_stage: 1}
strategy: {name: asha, min_epochs: 1, max_epochs: 9, reduction: 3}
evaluator:
  name: train
  dataset: {name: synthetic, shape: [1, 8, 8], classes: 3, train: 256, val: 64, test: 32}
  batch_size: 32
  lr: 0.05
  latency: false
  loader_threads: 0
budget: {epochs: 60}
parallel: {workers: 2, batch: 2}
)";
  std::string config(const std::string& extra = "") { return write("config.yaml", std::string(kConfig) + extra); }
  std::string db(const std::string& name = "results.db") const { return path(name); }

  // Every stored evaluation, without what timing changes.
  static nlohmann::json stored(const std::string& db) {
    auto all = nlohmann::json::parse(run_cli("results export --stage all --format json --db " + db).out);
    for (auto& e : all) {
      for (const char* key : {"seconds", "cost", "created_at", "elapsed"}) e.erase(key);
      e["metrics"].erase("train_seconds");
    }
    return all;
  }
};

TEST_F(MultiFidelitySearch, AshaIsTheSameForASeedHoweverManyWorkersTrain) {
  const CliOutput two = run_cli("search " + config() + " --db " + db("two.db") + " --quiet");
  ASSERT_EQ(two.status, 0) << two.out;
  const CliOutput one = run_cli("search " + config() + " --db " + db("one.db") + " --quiet --set parallel.workers=1");
  ASSERT_EQ(one.status, 0) << one.out;
  const nlohmann::json a = stored(db("two.db"));
  EXPECT_EQ(a, stored(db("one.db")));

  // The budget holds: epochs trained (each promotion only its extra epochs) stay within 60, and
  // every rung is visited, the top one holding the run's final candidates.
  double epochs = 0;
  std::map<std::string, double> reached;  // arch -> epochs trained so far
  std::map<int, int> per_rung;
  for (const auto& e : a) {
    const std::string arch = e["arch"];
    const double to = e["metrics"]["epochs"];
    EXPECT_GT(to, reached[arch]) << "a candidate trained again from a lower fidelity";
    epochs += to - reached[arch];
    reached[arch] = to;
    const int rung = static_cast<int>(e["metrics"]["rung"].get<double>());
    ++per_rung[rung];
    EXPECT_EQ(e["stage"], rung == 2 ? "query" : "rung");
    if (rung > 0) {
      EXPECT_TRUE(e["parent_seq"].is_number()) << e.dump();
    }
  }
  EXPECT_LE(epochs, 60);
  EXPECT_GT(epochs, 50);
  EXPECT_GT(per_rung[0], per_rung[1]);
  EXPECT_GT(per_rung[1], 0);
  EXPECT_GT(per_rung[2], 0);
  // The endgame: no candidate started once the budget left could not carry it to 9 epochs.
  double planned = 0;
  std::map<std::string, double> trained;
  for (const auto& e : a) {
    const std::string arch = e["arch"];
    if (!trained.count(arch)) {
      EXPECT_GE(60 - planned, 9) << arch << " started with " << 60 - planned << " epochs left";
    }
    const double to = e["metrics"]["epochs"];
    planned += to - trained[arch];
    trained[arch] = to;
  }

  // `results top` ranks the fully trained candidates and says how far each was trained.
  const CliOutput top = run_cli("results top -k 3 --db " + db("two.db"));
  EXPECT_NE(top.out.find("rung  epochs"), std::string::npos) << top.out;
  EXPECT_EQ(nlohmann::json::parse(run_cli("results top -k 100 --format json --db " + db("two.db")).out).size(),
            static_cast<std::size_t>(per_rung[2]));
}

TEST_F(MultiFidelitySearch, KilledAshaRunResumesToTheUninterruptedResult) {
  ASSERT_EQ(run_cli("search " + config() + " --db " + db("reference.db") + " --quiet").status, 0);
  const std::string args = config() + " --db " + db() + " --quiet --set parallel.workers=1";
  const int pid = start_search_after(args, db(), path("out.txt"), 6);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  waitpid(pid, nullptr, 0);
  const std::size_t before = stored(db()).size();
  ASSERT_GE(before, 6u);
  ASSERT_LT(before, stored(db("reference.db")).size()) << "the run finished before it could be killed";
  const CliOutput resumed = run_cli("search " + args + " --resume");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_EQ(stored(db()), stored(db("reference.db")));
}

// budget.seconds ends the installments in flight at their next step, unstored; a --resume with more
// time trains them again and ends where the run without a time budget ends.
TEST_F(MultiFidelitySearch, AshaStoppedByItsTimeBudgetResumesToTheUninterruptedResult) {
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(run_cli("search " + config() + " --db " + db("reference.db") + " --quiet").status, 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string args = config() + " --db " + db() + " --quiet";
  const CliOutput stopped = run_cli("search " + args + " --set budget.seconds=" + std::to_string(seconds / 3));
  ASSERT_EQ(stopped.status, 0) << stopped.out;
  EXPECT_NE(stopped.out.find(" budget: "), std::string::npos) << stopped.out;
  ASSERT_LT(stored(db()).size(), stored(db("reference.db")).size()) << "the run finished within a third of its time";
  const CliOutput resumed = run_cli("search " + args + " --resume --set budget.seconds=100000");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_EQ(stored(db()), stored(db("reference.db")));
}

// The evolution sampler: after the first `population` candidates, each new candidate is one
// mutation (one NB201 edge's operation) away from a candidate drawn before it, which random draws
// from 15,625 cells almost never are; and the run stays the same for a seed however many workers train.
TEST_F(MultiFidelitySearch, TheEvolutionSamplerMutatesEarlierCandidates) {
  const std::string file = config();
  const std::string sets = " --quiet --set strategy.sampler=evolution --set strategy.population=4 --set strategy.sample=2";
  ASSERT_EQ(run_cli("search " + file + " --db " + db("two.db") + sets).status, 0);
  ASSERT_EQ(run_cli("search " + file + " --db " + db("one.db") + sets + " --set parallel.workers=1").status, 0);
  const nlohmann::json all = stored(db("two.db"));
  EXPECT_EQ(all, stored(db("one.db")));
  const auto operations = [](const std::string& arch) {
    std::vector<std::string> ops;
    std::size_t begin = 0;
    while ((begin = arch.find('|', begin)) != std::string::npos) {
      const std::size_t end = arch.find('|', begin + 1);
      if (end == std::string::npos) break;
      if (const std::string token = arch.substr(begin + 1, end - begin - 1); token.find('~') != std::string::npos) ops.push_back(token);
      begin = end;
    }
    return ops;
  };
  std::vector<std::vector<std::string>> drawn;
  for (const auto& e : all) {
    if (e["metrics"]["rung"].get<double>() != 0) continue;
    const std::vector<std::string> ops = operations(e["arch"]);
    ASSERT_EQ(ops.size(), 6u) << e["arch"];
    if (drawn.size() >= 4) {
      const bool one_edit = std::any_of(drawn.begin(), drawn.end(), [&](const std::vector<std::string>& earlier) {
        int differ = 0;
        for (std::size_t i = 0; i < ops.size(); ++i) differ += ops[i] != earlier[i];
        return differ == 1;
      });
      EXPECT_TRUE(one_edit) << e["arch"] << " is no mutation of an earlier candidate";
    }
    drawn.push_back(ops);
  }
  EXPECT_GT(drawn.size(), 8u) << "the budget leaves room for mutated candidates";
}

TEST_F(MultiFidelitySearch, HyperbandAndSuccessiveHalvingEndWithTheirBrackets) {
  const CliOutput sh = run_cli("search " + config() + " --db " + db("sh.db") + " --set strategy.name=successive_halving --set budget.epochs=1000");
  ASSERT_EQ(sh.status, 0) << sh.out;
  EXPECT_NE(sh.out.find("run 1 finished: 13 evaluations"), std::string::npos) << sh.out;  // 9 + 3 + 1
  EXPECT_FALSE(std::filesystem::exists(db("sh.db") + ".checkpoints/run-1.ckpt.stages")) << "a finished bracket keeps no training states";
  const CliOutput hb = run_cli("search " + config() + " --db " + db("hb.db") + " --quiet --set strategy.name=hyperband --set budget.epochs=1000");
  ASSERT_EQ(hb.status, 0) << hb.out;
  EXPECT_NE(hb.out.find("run 1 finished: 22 evaluations"), std::string::npos) << hb.out;
  // passes: 0 starts the brackets again (one pass is 69 epochs here) until the budget is spent.
  const CliOutput again = run_cli("search " + config() + " --db " + db("again.db") +
                                  " --quiet --set strategy.name=hyperband --set strategy.passes=0 --set budget.epochs=100");
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("run 1 finished"), std::string::npos) << again.out;
  EXPECT_GT(stored(db("again.db")).size(), 22u);
}

TEST_F(MultiFidelitySearch, NoCandidateBreakingAStaticConstraintIsTrained) {
  // About half of these small cells have more than 6,000 parameters.
  const CliOutput r = run_cli("search " + config("constraints: {params: {max: 6000}}\n") + " --db " + db() + " --set budget.epochs=20");
  ASSERT_EQ(r.status, 0) << r.out;
  const nlohmann::json all = stored(db());
  ASSERT_GT(all.size(), 5u);
  for (const auto& e : all) EXPECT_LE(e["metrics"]["params"].get<double>(), 6000) << e.dump();
  EXPECT_NE(r.out.find("broke a constraint before training"), std::string::npos) << r.out;
}

TEST_F(MultiFidelitySearch, BadConfigsAreOneLineBeforeAnythingTrains) {
  const auto refused = [&](const std::string& sets, const std::string& fragment, std::string file = "") {
    if (file.empty()) file = config();
    const CliOutput r = run_cli("search " + file + " --db " + db() + " " + sets);
    EXPECT_EQ(r.status, 1) << sets << "\n" << r.out;
    EXPECT_NE(r.out.find(fragment), std::string::npos) << sets << "\n" << r.out;
    EXPECT_FALSE(std::filesystem::exists(db())) << sets;
  };
  std::string unbudgeted = kConfig;
  unbudgeted.erase(unbudgeted.find("budget:"), std::string("budget: {epochs: 60}\n").size());
  refused("", "budget needs at least one of evaluations, epochs, seconds or cost", write("unbudgeted.yaml", unbudgeted));
  refused("--set strategy.max_epochs=0", "max_epochs");
  refused("--set strategy.reduction=1", "strategy.reduction");
  refused("--set evaluator.steps=5", "evaluator.steps: asha counts training in epochs");
  refused("--set objective.metric=accuracy", "objective.metric 'accuracy' is not reported by the evaluator");
  refused("--set strategy.candidates=4", "candidates");
  refused("--set strategy.sampler=evolution --set strategy.population=2 --set strategy.sample=3", "strategy.sample: 3 is larger than the population (2)");
  refused("--set strategy.sampler=bayes", "strategy.sampler");
  refused("--set strategy.name=hyperband --set strategy.passes=0", "budget needs at least one of", path("unbudgeted.yaml"));
  refused("--set strategy.name=hyperband --set strategy.passes=-1", "strategy.passes");
  refused("--set strategy.endgame=maybe", "strategy.endgame");
}

}  // namespace
}  // namespace nascent
