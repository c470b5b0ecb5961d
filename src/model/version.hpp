#pragma once
// The upstream version this nsqd speaks as: `--version`, /info, /stats, IDENTIFY, nsqd.dat.

#include <string_view>

namespace nsqd {

inline constexpr std::string_view nsqd_version = "1.3.0";

}  // namespace nsqd
