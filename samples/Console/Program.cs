Console.Error.WriteLine("EdgeShortcut console sample: under construction (issue 4).");
return 1;
