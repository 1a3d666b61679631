// Load RoboLM's blocks (blocks/*.json) into the real Blockly (npm "blockly") and generate
// MicroPython through Blockly's own pythonGenerator. Proves the definitions are real Blockly.
//
//   node tools/blockly/generate.js --all            JSON {block_type: generated program} for every
//                                                   block, built from the toolbox (with its shadows)
//   node tools/blockly/generate.js < workspace.json  the program for a serialized workspace
//   node tools/blockly/generate.js --toolbox t.json  (optional) use this toolbox for --all
//
// Install once: cd tools/blockly && npm install   (node_modules/ is git-ignored)
'use strict';
const fs = require('fs');
const path = require('path');
const Blockly = require('blockly');
const {pythonGenerator, Order} = require('blockly/python');

const BLOCKS_DIR = path.resolve(__dirname, '..', '..', 'blocks');

function loadBlockFiles(dir) {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
      .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
}

// Blocks and their generators come from robot_generators.js, shared with the block editor.
function setup() {
  const files = loadBlockFiles(BLOCKS_DIR);
  const all = require('./robot_generators').install(Blockly, pythonGenerator, Order, files);
  return {files, all};
}

function generate(state) {
  const ws = new Blockly.Workspace();
  Blockly.serialization.workspaces.load(state, ws);
  const code = pythonGenerator.workspaceToCode(ws);
  ws.dispose();
  return code;
}

function main() {
  const argv = process.argv.slice(2);
  const {all} = setup();
  if (argv.includes('--all')) {
    const i = argv.indexOf('--toolbox');
    if (i < 0) throw new Error('--all needs --toolbox FILE (python -c "from robolm.registry import toolbox")');
    const toolbox = JSON.parse(fs.readFileSync(argv[i + 1], 'utf8'));
    const items = toolbox.contents.flatMap((c) => c.contents);
    const out = {};
    for (const item of items) {
      const def = all.find((d) => d.type === item.type);
      if (!def) throw new Error(`toolbox block ${item.type} is not defined`);
      let block = {type: item.type};
      if (item.inputs) block.inputs = item.inputs;
      // a value block alone is not a statement: print it, as the registry's example does
      if (def.output !== undefined) block = {type: 'text_print', inputs: {TEXT: {block}}};
      out[item.type] = generate({blocks: {languageVersion: 0, blocks: [block]}});
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  const state = JSON.parse(fs.readFileSync(0, 'utf8'));
  process.stdout.write(generate(state));
}

main();
