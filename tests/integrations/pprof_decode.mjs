// Decodes a `measure report --format pprof` file with an independent reader, the npm
// package pprof-format, and prints what it found as JSON for pprof_test.cpp to check:
// the sample types and every sample's frames (innermost first) and values.
// Usage: node pprof_decode.mjs NPM_PREFIX PROFILE.pb.gz
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';

const [prefix, file] = process.argv.slice(2);
const { Profile } = createRequire(resolve(prefix, 'package.json'))('pprof-format');
const profile = Profile.decode(gunzipSync(readFileSync(file)));
const text = (index) => profile.stringTable.strings[Number(index)];
const byId = (list) => new Map(list.map((item) => [Number(item.id), item]));
const functions = byId(profile.function);
const locations = byId(profile.location);

const frames = (sample) =>
  sample.locationId.flatMap((id) =>
    // A location's lines: its inlined functions first, the function they are inlined into last.
    locations.get(Number(id)).line.map((line) => {
      const f = functions.get(Number(line.functionId));
      return { function: text(f.name), file: text(f.filename), line: Number(line.line) };
    }),
  );

console.log(
  JSON.stringify({
    sample_types: profile.sampleType.map((t) => [text(t.type), text(t.unit)]),
    default_sample_type: text(profile.defaultSampleType),
    samples: profile.sample.map((s) => ({ frames: frames(s), values: s.value.map(Number) })),
  }),
);
