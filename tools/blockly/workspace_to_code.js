// Load serialized Blockly workspaces (robolm/blocks.py's code_to_blocks output) into the real
// Blockly (npm "blockly") and print what its pythonGenerator writes for them.
//
//   node tools/blockly/workspace_to_code.js ws.json          the program for one workspace
//   node tools/blockly/workspace_to_code.js --many < list.json
//        list.json = [workspace, ...]  ->  prints JSON [{"code": ...} | {"error": ...}, ...]
//
// A workspace fails (exit 1, or {"error"} with --many) when Blockly throws while loading it, or
// warns (an unknown field or block), or when saving the loaded workspace again loses blocks.
// Install once: cd tools/blockly && npm ci   (node_modules/ is git-ignored)
'use strict';
const fs = require('fs');
const path = require('path');
const Blockly = require('blockly');
const {pythonGenerator, Order} = require('blockly/python');
const robotGenerators = require('./robot_generators.js');

const BLOCKS_DIR = path.resolve(__dirname, '..', '..', 'blocks');

function setup() {
  const files = fs.readdirSync(BLOCKS_DIR).filter((n) => n.endsWith('.json')).sort()
      .map((f) => JSON.parse(fs.readFileSync(path.join(BLOCKS_DIR, f), 'utf8')));
  robotGenerators.install(Blockly, pythonGenerator, Order, files);
  return files;
}

function countBlocks(state) {
  let n = 0;
  const walk = (b) => {
    if (!b) return;
    n++;
    for (const inp of Object.values(b.inputs || {})) walk(inp.block);
    if (b.next) walk(b.next.block);
  };
  for (const b of ((state.blocks || {}).blocks || [])) walk(b);
  return n;
}

function toCode(state) {
  const warnings = [];
  const warn = console.warn;
  console.warn = (...a) => warnings.push(a.join(' '));
  const ws = new Blockly.Workspace();
  try {
    Blockly.serialization.workspaces.load(state, ws);
    if (warnings.length) throw new Error('Blockly warned: ' + warnings.join('; '));
    const saved = Blockly.serialization.workspaces.save(ws);
    if (countBlocks(saved) !== countBlocks(state)) {
      throw new Error(`loaded ${countBlocks(saved)} of ${countBlocks(state)} blocks`);
    }
    return pythonGenerator.workspaceToCode(ws);
  } finally {
    console.warn = warn;
    ws.dispose();
  }
}

function main() {
  const argv = process.argv.slice(2);
  const files = setup();
  if (argv[0] === '--toolbox') {  // the editor's toolbox, to check that Blockly accepts it
    const ws = new Blockly.Workspace();
    const tb = robotGenerators.toolbox(files);
    const types = tb.contents.flatMap((c) => (c.contents || []).map((b) => b.type));
    const missing = types.filter((t) => !Blockly.Blocks[t] || !pythonGenerator.forBlock[t]);
    process.stdout.write(JSON.stringify({categories: tb.contents.length, blocks: types.length, missing}) + '\n');
    ws.dispose();
    return;
  }
  if (argv[0] === '--many') {
    const list = JSON.parse(fs.readFileSync(0, 'utf8'));
    const out = list.map((state) => {
      try {
        return {code: toCode(state)};
      } catch (e) {
        return {error: String(e.message || e)};
      }
    });
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  const text = argv.length ? fs.readFileSync(argv[0], 'utf8') : fs.readFileSync(0, 'utf8');
  try {
    process.stdout.write(toCode(JSON.parse(text)));
  } catch (e) {
    process.stderr.write(`workspace_to_code: ${e.message || e}\n`);
    process.exit(1);
  }
}

main();
