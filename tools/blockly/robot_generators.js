// The Python generator of RoboLM's robot blocks, shared by workspace_to_code.js (node) and
// editor.html (browser): every block writes robot.<type>(<arguments in order>), after
// `from robot import Robot` / `robot = Robot()` (the same code as generate.js and robolm/registry.py).
(function(root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.robotGenerators = factory();
}(this, function() {
  'use strict';

  // Define the blocks of the parsed blocks/*.json files and their generators.
  function install(Blockly, pythonGenerator, Order, blockFiles) {
    const defs = [];
    for (const file of blockFiles) {
      for (const def of file.blocks) {
        defs.push(def);
        defineGenerator(pythonGenerator, Order, def, (file.robolm || {})[def.type] || {});
      }
    }
    Blockly.common.defineBlocksWithJsonArray(defs);
    return defs;
  }

  function defineGenerator(pythonGenerator, Order, def, meta) {
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

  // A category toolbox: the robot's categories, then Blockly's built-in ones.
  function toolbox(blockFiles) {
    const robot = blockFiles.map((f) => ({
      kind: 'category', name: f.name, colour: String(f.colour),
      contents: f.blocks.map((b) => ({kind: 'block', type: b.type})),
    }));
    const builtin = (name, colour, types) => ({
      kind: 'category', name, colour, contents: types.map((type) => ({kind: 'block', type})),
    });
    return {kind: 'categoryToolbox', contents: robot.concat([
      builtin('Logic', '210', ['controls_if', 'logic_compare', 'logic_operation', 'logic_negate', 'logic_boolean']),
      builtin('Loops', '120', ['controls_whileUntil', 'controls_repeat_ext', 'controls_for', 'controls_forEach',
        'controls_flow_statements']),
      builtin('Math', '230', ['math_number', 'math_arithmetic', 'math_single', 'math_modulo', 'math_random_int']),
      builtin('Text', '160', ['text', 'text_join', 'text_print']),
      builtin('Lists', '260', ['lists_create_with']),
      {kind: 'category', name: 'Variables', colour: '330', custom: 'VARIABLE'},
      {kind: 'category', name: 'Functions', colour: '290', custom: 'PROCEDURE'},
    ])};
  }

  return {install, toolbox};
}));
