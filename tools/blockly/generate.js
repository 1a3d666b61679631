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

// A Python literal for a field value, the way the registry writes it.
function literal(value) {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return pythonGenerator.quote_(String(value));
}

// One generator per block: robot.<type>(<args in order>)
function defineGenerator(def, meta) {
  pythonGenerator.forBlock[def.type] = function(block, generator) {
    generator.definitions_['import_robot'] = 'from robot import Robot';
    generator.definitions_['robot'] = 'robot = Robot()';
    const args = (def.args0 || []).map((arg) => {
      switch (arg.type) {
        case 'field_number': return String(Number(block.getFieldValue(arg.name)));
        case 'field_input':
        case 'field_dropdown': return generator.quote_(block.getFieldValue(arg.name));
        case 'field_checkbox': return block.getFieldValue(arg.name) === 'TRUE' ? 'True' : 'False';
        case 'input_value': {
          const code = generator.valueToCode(block, arg.name, Order.NONE);
          const ex = ((meta.inputs || {})[arg.name.toLowerCase()] || {}).example;
          return code || literal(ex === undefined ? '' : ex);
        }
        default: throw new Error(`block ${def.type}: unsupported argument type ${arg.type}`);
      }
    });
    const code = `robot.${def.type}(${args.join(', ')})`;
    return def.output !== undefined ? [code, Order.FUNCTION_CALL] : code + '\n';
  };
}

function setup() {
  const files = loadBlockFiles(BLOCKS_DIR);
  const all = [];
  for (const f of files) {
    for (const def of f.blocks) {
      all.push(def);
      defineGenerator(def, f.robolm[def.type] || {});
    }
  }
  Blockly.common.defineBlocksWithJsonArray(all);
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
