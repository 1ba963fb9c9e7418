#include "runtime/config.h"

#include <cstring>

#include "support/log.h"

namespace measure::detail {

const char* parse_digits(const char* text, std::uint64_t* value) noexcept {
  if (text == nullptr || *text < '0' || *text > '9') {
    return nullptr;
  }
  *value = 0;
  for (; *text >= '0' && *text <= '9'; ++text) {
    std::uint64_t digit = static_cast<std::uint64_t>(*text - '0');
    if (*value > (UINT64_MAX - digit) / 10) {
      return nullptr;
    }
    *value = *value * 10 + digit;
  }
  return text;
}

bool parse_byte_count(const char* text, std::uint64_t* out) noexcept {
  std::uint64_t value = 0;
  text = parse_digits(text, &value);
  if (text == nullptr) {
    return false;
  }
  unsigned shift = 0;
  switch (*text) {
    case '\0':
      break;
    case 'k':
    case 'K':
      shift = 10;
      ++text;
      break;
    case 'm':
    case 'M':
      shift = 20;
      ++text;
      break;
    case 'g':
    case 'G':
      shift = 30;
      ++text;
      break;
    default:
      return false;
  }
  if (shift != 0 && (*text == 'i' || *text == 'I')) {
    ++text;
  }
  if (shift != 0 && (*text == 'b' || *text == 'B')) {
    ++text;
  }
  if (*text != '\0' || (shift != 0 && value > (UINT64_MAX >> shift))) {
    return false;
  }
  *out = value << shift;
  return true;
}

namespace {

// A decimal number that fits 64 bits, nothing else.
bool parse_decimal(const char* text, std::uint64_t* out) noexcept {
  std::uint64_t value = 0;
  const char* end = parse_digits(text, &value);
  if (end == nullptr || *end != '\0') {
    return false;
  }
  *out = value;
  return true;
}

// "2", "0.5", "10.25": seconds with up to three decimals, into milliseconds (at most a day).
bool parse_seconds(const char* text, std::uint64_t* ms) noexcept {
  std::uint64_t whole = 0;
  const char* p = text;
  if (*p < '0' || *p > '9') {
    return false;
  }
  for (; *p >= '0' && *p <= '9'; ++p) {
    whole = whole * 10 + static_cast<std::uint64_t>(*p - '0');
    if (whole > 86400) {
      return false;
    }
  }
  std::uint64_t fraction = 0;
  if (*p == '.') {
    std::uint64_t scale = 100;
    for (++p; *p >= '0' && *p <= '9' && scale != 0; ++p, scale /= 10) {
      fraction += static_cast<std::uint64_t>(*p - '0') * scale;
    }
  }
  if (*p != '\0') {
    return false;
  }
  *ms = whole * 1000 + fraction;
  return true;
}

void warn_bad(const char* name, const char* value, const char* expected, const char* fallback) noexcept {
  LogLine()
      .text("ignoring ")
      .text(name)
      .text("=")
      .shortened(value)
      .text(" (expected ")
      .text(expected)
      .text("); using ")
      .text(fallback)
      .emit();
}

bool parse_flag(const char* name, const char* value, bool* out) noexcept {
  if (std::strcmp(value, "1") == 0 || std::strcmp(value, "yes") == 0 || std::strcmp(value, "true") == 0) {
    *out = true;
    return true;
  }
  if (std::strcmp(value, "0") == 0 || std::strcmp(value, "no") == 0 || std::strcmp(value, "false") == 0 ||
      *value == '\0') {
    *out = false;
    return true;
  }
  warn_bad(name, value, "0 or 1", *out ? "1" : "0");  // *out still holds the default
  return false;
}

void apply(const char* name, const char* value, Options& options) noexcept {
  if (std::strcmp(name, "MEASURE_MODE") == 0) {
    if (std::strcmp(value, "exact") == 0) {
      options.mode = Mode::exact;
    } else if (std::strcmp(value, "sampled") == 0) {
      options.mode = Mode::sampled;
    } else if (std::strcmp(value, "counters") == 0) {
      options.mode = Mode::counters;
    } else if (std::strcmp(value, "off") == 0) {
      options.mode = Mode::off;
    } else {
      warn_bad(name, value, "exact, sampled, counters or off", "exact");
    }
  } else if (std::strcmp(name, "MEASURE_DEPTH") == 0) {
    std::uint64_t depth = 0;
    if (parse_byte_count(value, &depth) && depth >= 1 && depth <= max_depth) {
      options.depth = static_cast<std::uint32_t>(depth);
    } else {
      warn_bad(name, value, "a number of frames from 1 to 256", "64");
    }
  } else if (std::strcmp(name, "MEASURE_SAMPLE_INTERVAL") == 0) {
    std::uint64_t bytes = 0;
    if (parse_byte_count(value, &bytes) && bytes >= 1) {
      options.sample_interval = bytes;
    } else {
      warn_bad(name, value, "a positive byte count such as 524288 or 512K", "512K");
    }
  } else if (std::strcmp(name, "MEASURE_OUTPUT") == 0) {
    std::size_t n = std::strlen(value);
    if (n > 0 && n < sizeof options.output) {
      std::memcpy(options.output, value, n + 1);
      options.output_set = true;
    } else {
      char expected[96] = "a file path shorter than 4096 bytes, not ";
      std::size_t e = std::strlen(expected);
      e += format_decimal(n, expected + e);
      std::memcpy(expected + e, " bytes", 7);
      warn_bad(name, value, expected, "measure.%n.%p.msr");
    }
  } else if (std::strcmp(name, "MEASURE_STATUS_DIR") == 0) {
    std::size_t n = std::strlen(value);
    if (n < sizeof options.status_dir) {
      std::memcpy(options.status_dir, value, n + 1);
    } else {
      warn_bad(name, value, "a directory path shorter than 4096 bytes", "none");
    }
  } else if (std::strcmp(name, "MEASURE_CHECKPOINT_INTERVAL") == 0) {
    if (!parse_seconds(value, &options.checkpoint_ms)) {
      warn_bad(name, value, "seconds between checkpoints, such as 2 or 0.5; 0 turns them off", "2");
    }
  } else if (std::strcmp(name, "MEASURE_FOLLOW_FORKS") == 0) {
    parse_flag(name, value, &options.follow_forks);
  } else if (std::strcmp(name, "MEASURE_FOLLOW_EXEC") == 0) {
    parse_flag(name, value, &options.follow_exec);
  } else if (std::strcmp(name, "MEASURE_TIMELINE") == 0) {
    parse_flag(name, value, &options.timeline);
  } else if (std::strcmp(name, "MEASURE_INTERVALS") == 0) {
    parse_flag(name, value, &options.intervals);
  } else if (std::strcmp(name, "MEASURE_SHADOW") == 0) {
    parse_flag(name, value, &options.shadow);
  } else if (std::strcmp(name, "MEASURE_SEED") == 0) {
    options.seed_set = parse_decimal(value, &options.seed);
    if (!options.seed_set) {
      warn_bad(name, value, "a decimal number", "a random seed");
    }
  } else if (std::strcmp(name, injected_variable) == 0) {
    // Read by the environment unit when the runtime starts (runtime/environment.h).
  } else {
    LogLine()
        .text("ignoring unknown environment variable ")
        .text(name)
        .text(
            " (known: MEASURE_OUTPUT, MEASURE_MODE, MEASURE_DEPTH, MEASURE_SAMPLE_INTERVAL, "
            "MEASURE_CHECKPOINT_INTERVAL, MEASURE_FOLLOW_FORKS, MEASURE_FOLLOW_EXEC, MEASURE_TIMELINE, "
            "MEASURE_SHADOW, MEASURE_SEED, MEASURE_STATUS_DIR, MEASURE_INJECTED)")
        .emit();
  }
}

}  // namespace

void parse_environment(char* const* environment, Options& options) noexcept {
  if (environment == nullptr) {
    return;
  }
  for (char* const* entry = environment; *entry != nullptr; ++entry) {
    const char* e = *entry;
    if (std::strncmp(e, "MEASURE_", 8) != 0) {
      continue;
    }
    const char* eq = std::strchr(e, '=');
    if (eq == nullptr) {
      continue;
    }
    char name[64];
    std::size_t len = static_cast<std::size_t>(eq - e);
    if (len >= sizeof name) {
      len = sizeof name - 1;
    }
    std::memcpy(name, e, len);
    name[len] = '\0';
    apply(name, eq + 1, options);
  }
}

}  // namespace measure::detail
