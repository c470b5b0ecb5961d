// The command line: Go flag syntax, checked against the option table registered with
// Boost.Program_options (a bool-like flag is one with an implicit value), and the usage text.

#include <algorithm>

#include <boost/program_options.hpp>

#include "config/options_table.hpp"

namespace nsqd::config {
namespace po = boost::program_options;

namespace detail {
namespace {

// Every flag takes string values, collected in order; Go-style bools (and --tls-required)
// carry implicit "true" so that a bare flag never consumes the next argument.
po::options_description describe_flags() {
  po::options_description desc("nsqd");
  for (const option_spec& spec : option_table()) {
    auto* semantic = po::value<std::vector<std::string>>()->composing();
    if (is_bool_flag(spec)) semantic->implicit_value({"true"}, "true");
    desc.add_options()(std::string(spec.flag).c_str(), semantic,
                       std::string(spec.help).c_str());
  }
  return desc;
}

struct scan {
  po::parsed_options parsed;
  std::string error;
  bool help = false;
};

// Go's FlagSet.Parse: "-name", "--name", "-name=value", "--name value"; stops at "--", at
// the first non-flag argument, and at the first error.
void scan_args(const std::vector<std::string>& args, const po::options_description& desc,
               scan& out) {
  for (std::size_t i = 0; i < args.size();) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') return;
    const std::size_t dashes = arg[1] == '-' ? 2 : 1;
    if (dashes == 2 && arg.size() == 2) return;
    std::string name = arg.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') {
      out.error = std::string("bad flag syntax: ") + arg;
      return;
    }
    ++i;
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const po::option_description* d = desc.find_nothrow(name, false);
    if (!d) {
      if (name == "help" || name == "h") {
        out.help = true;
      } else {
        out.error = std::string("flag provided but not defined: -") + name;
      }
      return;
    }
    if (d->semantic()->min_tokens() == 0) {
      if (!value) value = "true";
    } else if (!value) {
      if (i == args.size()) {
        out.error = std::string("flag needs an argument: -") + name;
        return;
      }
      value = args[i++];
    }
    po::option opt(name, {*value});
    opt.original_tokens = {arg};
    out.parsed.options.push_back(std::move(opt));
  }
}

}  // namespace

command_line read_command_line(const std::vector<std::string>& args) {
  const po::options_description desc = describe_flags();
  scan s{po::parsed_options(&desc), {}, false};
  scan_args(args, desc, s);

  command_line result{{}, std::move(s.error), s.help};
  po::variables_map given;
  try {
    po::store(s.parsed, given);
  } catch (const po::error& e) {  // not expected: every flag was checked against `desc`
    if (result.error.empty()) result.error = e.what();
    return result;
  }
  for (const option_spec& spec : option_table()) {
    const std::string key(spec.flag);
    if (given.count(key))
      result.given.emplace_back(&spec, given[key].as<std::vector<std::string>>());
  }
  return result;
}

}  // namespace detail

// Go's flag.PrintDefaults layout: "  -name type", then the help on the next line after a tab,
// then "(default x)" unless the default is the zero value.
std::string usage_text(const options& defaults) {
  std::vector<const detail::option_spec*> specs;
  for (const auto& spec : detail::option_table()) specs.push_back(&spec);
  std::sort(specs.begin(), specs.end(), [](auto* a, auto* b) { return a->flag < b->flag; });

  std::string out = "Usage of nsqd:\n";
  for (const detail::option_spec* spec : specs) {
    std::string line = "  -";
    line += spec->flag;
    if (auto type = detail::usage_type(*spec); !type.empty()) {
      line += ' ';
      line += type;
    }
    line += line.size() <= 4 ? "\t" : "\n    \t";
    line += spec->help;
    if (auto def = detail::usage_default(*spec, defaults); !def.empty())
      line += " (default " + def + ")";
    out += line + "\n";
  }
  return out;
}

}  // namespace nsqd::config
