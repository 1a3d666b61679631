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

const BLOCKS_DIR = path.resolve(__dirname, '..', '..', 'blocks');

// The same generator as generate.js: robot.<type>(<arguments in order>)
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
          if (code) return code;
          if (typeof ex === 'number') return String(ex);
          return generator.quote_(ex === undefined ? '' : String(ex));
        }
        default: throw new Error(`block ${def.type}: unsupported argument type ${arg.type}`);
      }
    });
    const code = `robot.${def.type}(${args.join(', ')})`;
    return def.output !== undefined ? [code, Order.FUNCTION_CALL] : code + '\n';
  };
}

function setup() {
  const defs = [];
  for (const f of fs.readdirSync(BLOCKS_DIR).filter((n) => n.endsWith('.json')).sort()) {
    const file = JSON.parse(fs.readFileSync(path.join(BLOCKS_DIR, f), 'utf8'));
    for (const def of file.blocks) {
      defs.push(def);
      defineGenerator(def, file.robolm[def.type] || {});
    }
  }
  Blockly.common.defineBlocksWithJsonArray(defs);
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
  setup();
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
