// The example plugin's strategy: first-improvement hill climbing. It evaluates a random start,
// then mutations of the best architecture so far, restarting from a random one after `patience`
// mutations without improvement.
#include <optional>

#include "core/registry.hpp"
#include "strategies/strategy.hpp"

namespace nascent {
namespace {

class HillClimb final : public Strategy {
 public:
  HillClimb(const SearchSpace& space, std::size_t patience) : space_(space), patience_(patience) {}
  std::string name() const override { return "hill_climb"; }

  std::vector<std::string> ask(std::size_t count, Rng& rng) override {
    std::vector<std::string> asked;
    for (std::size_t i = 0; i < count; ++i) {
      if (!best_ || failures_ >= patience_) {
        failures_ = 0;
        best_.reset();
        asked.push_back(space_.sample(rng));
      } else {
        asked.push_back(space_.mutate(best_->first, rng));
      }
    }
    return asked;
  }

  void tell(const std::string& arch, std::optional<double> fitness) override {
    if (fitness && (!best_ || *fitness > best_->second)) {
      best_ = std::make_pair(arch, *fitness);
      failures_ = 0;
    } else {
      ++failures_;
    }
  }

 private:
  const SearchSpace& space_;
  std::size_t patience_;
  std::optional<std::pair<std::string, double>> best_;
  std::size_t failures_ = 0;
};

}  // namespace

namespace example_plugin {

void register_hill_climb(Registries& registries) {
  registries.strategies.add("hill_climb", "example plugin: hill climbing by mutation, restarting after `patience` failures",
                            OptionTable().integer("patience", 5, "mutations without improvement before a random restart").at_least(1),
                            [](const Options& options, const StrategyContext& context) -> std::unique_ptr<Strategy> {
                              return std::make_unique<HillClimb>(context.space, static_cast<std::size_t>(options.get<long long>("patience")));
                            });
}

}  // namespace example_plugin
}  // namespace nascent
